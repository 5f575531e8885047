#include "core/status.h"

#include <gtest/gtest.h>

namespace cadence {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Status Quarter(int x, int* out) {
  CADENCE_ASSIGN_OR_RETURN(int h, Half(x));
  CADENCE_ASSIGN_OR_RETURN(int q, Half(h));
  *out = q;
  return Status::Ok();
}

TEST(StatusTest, CodesAndMessages) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Status::NotFound("model.gguf: no such file");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "not_found: model.gguf: no such file");
  EXPECT_EQ(s.WithContext("loading").message(), "loading: model.gguf: no such file");
}

TEST(StatusTest, ResultPropagation) {
  int q = 0;
  EXPECT_TRUE(Quarter(12, &q).ok());
  EXPECT_EQ(q, 3);
  Status bad = Quarter(6, &q);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(), "odd: 3");
}

}  // namespace
}  // namespace cadence
