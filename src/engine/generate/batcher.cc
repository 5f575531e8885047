#include "engine/generate/batcher.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>

#include "engine/generate/sampler.h"
#include "engine/generate/text_stream.h"

namespace cadence::engine {

namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

size_t CommonPrefix(const std::vector<TokenId>& a, const std::vector<TokenId>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

}  // namespace

struct Batcher::Slot {
  std::unique_ptr<Sequence> seq;
  bool busy = false;
  uint64_t used = 0;  // the loop's clock when last used (least recently used is reused first)
};

struct Batcher::Job {
  // Set before submission, then read only by the loop thread.
  std::vector<TokenId> prompt;
  GenerateOptions options;
  int head_tokens = 0;
  const CancelToken* cancel = nullptr;
  bool prepare_only = false;
  bool shared_head = false;
  Clock::time_point submitted = Clock::now();

  // Loop thread only.
  Slot* slot = nullptr;
  size_t fed = 0;  // prompt tokens in the slot
  bool decoding = false;
  TokenId next = -1;
  int generated = 0;
  std::vector<float> logits;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<TextStream> text;
  GenerateResult result;
  Clock::time_point first_token_at;

  // Shared with the caller.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> pieces;  // guarded by mu
  bool done = false;               // guarded by mu
  Status status;                   // guarded by mu; set with done
  std::atomic<bool> abandoned{false};

  bool Cancelled() const { return cancel != nullptr && cancel->cancelled(); }
  void Push(std::string piece) {
    if (piece.empty()) return;
    result.text += piece;
    if (prepare_only) return;
    std::lock_guard<std::mutex> lock(mu);
    pieces.push_back(std::move(piece));
    cv.notify_one();
  }
};

Batcher::Batcher(const Model& model, const Tokenizer& tokenizer, BatcherOptions options)
    : model_(model), tokenizer_(tokenizer), options_(options) {
  options_.slots = std::max(1, options_.slots);
  options_.kv_tokens = std::max(16, options_.kv_tokens);
  options_.prefill_chunk = std::max(1, options_.prefill_chunk);
  options_.shared_heads = std::max(0, options_.shared_heads);
  thread_ = std::thread([this] { Loop(); });
}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

BatcherStats Batcher::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

Result<GenerateResult> Batcher::Generate(const GenerationRequest& request, const CancelToken* cancel,
                                         const std::function<bool(std::string_view)>& on_text) {
  if (request.prompt.empty()) return Status::InvalidArgument("generate: the prompt has no tokens");
  const int need = static_cast<int>(request.prompt.size()) + std::max(0, request.options.max_tokens);
  if (need > options_.kv_tokens)
    return Status::OutOfRange("generate: the prompt (" + std::to_string(request.prompt.size()) +
                              " tokens) plus the reply budget (" + std::to_string(request.options.max_tokens) +
                              ") exceed the KV cache of " + std::to_string(options_.kv_tokens) +
                              " tokens; shorten the history");
  auto job = std::make_shared<Job>();
  job->prompt = request.prompt;
  job->options = request.options;
  job->head_tokens = std::clamp(request.head_tokens, 0, static_cast<int>(request.prompt.size()));
  job->cancel = cancel;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return Status::Cancelled("the model is shutting down");
    waiting_.push_back(job);
  }
  wake_.notify_all();
  std::unique_lock<std::mutex> lock(job->mu);
  bool listening = true;
  std::string delivered;
  for (;;) {
    job->cv.wait(lock, [&] { return !job->pieces.empty() || job->done; });
    while (!job->pieces.empty()) {
      std::string piece = std::move(job->pieces.front());
      job->pieces.pop_front();
      if (!listening) continue;
      delivered += piece;
      if (!on_text) continue;
      lock.unlock();
      listening = on_text(piece);
      if (!listening) job->abandoned = true;
      lock.lock();
    }
    if (job->done) break;
  }
  if (!job->status.ok()) return job->status;
  GenerateResult result = std::move(job->result);
  if (!listening) {  // the caller stopped: its text ends where it stopped listening
    result.stop_reason = "stop";
    result.text = std::move(delivered);
  }
  return result;
}

void Batcher::Prepare(std::vector<TokenId> tokens, bool shared_head) {
  if (tokens.empty() || static_cast<int>(tokens.size()) > options_.kv_tokens) return;
  if (shared_head && options_.shared_heads == 0) return;
  auto job = std::make_shared<Job>();
  job->prompt = std::move(tokens);
  job->prepare_only = true;
  job->shared_head = shared_head;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_.push_back(job);
  }
  wake_.notify_all();
}

void Batcher::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] { return waiting_.empty() && active_ == 0; });
}

void Batcher::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !waiting_.empty() || !running_.empty(); });
    if (stop_) break;
    Admit(lock);
    active_ = static_cast<int>(running_.size());
    if (running_.empty()) {
      idle_cv_.notify_all();
      if (!waiting_.empty()) wake_.wait_for(lock, std::chrono::milliseconds(5));  // no slot free yet
      continue;
    }
    lock.unlock();
    Step();
    lock.lock();
    active_ = static_cast<int>(running_.size());
    if (running_.empty() && waiting_.empty()) idle_cv_.notify_all();
  }
  std::vector<std::shared_ptr<Job>> left(waiting_.begin(), waiting_.end());
  waiting_.clear();
  lock.unlock();
  left.insert(left.end(), running_.begin(), running_.end());
  for (const auto& job : left) Finish(*job, Status::Cancelled("the model is shutting down"));
  running_.clear();
  lock.lock();
  active_ = 0;
  idle_cv_.notify_all();
}

void Batcher::Admit(std::unique_lock<std::mutex>& lock) {
  while (!waiting_.empty()) {
    std::shared_ptr<Job> job = waiting_.front();
    if (job->Cancelled()) {
      waiting_.pop_front();
      lock.unlock();
      Finish(*job, Status::Cancelled("generation cancelled"));
      lock.lock();
      continue;
    }
    // Where the prompt goes: a shared head, or the free slot that shares the most with it.
    Slot* target = nullptr;
    size_t common = 0;
    if (job->shared_head) {
      for (auto& h : heads_)
        if (CommonPrefix(h->seq->tokens(), job->prompt) == job->prompt.size()) {
          h->used = ++clock_;
          target = h.get();  // already held
        }
      if (target != nullptr) {
        waiting_.pop_front();
        continue;
      }
      target = NewHead();
      if (target == nullptr) break;  // every head is being filled: wait
    } else {
      for (auto& s : slots_) {
        if (s->busy) continue;
        const size_t n = CommonPrefix(s->seq->tokens(), job->prompt);
        if (target == nullptr || n > common || (n == common && s->used < target->used)) {
          target = s.get();
          common = n;
        }
      }
      if ((target == nullptr || common == 0) && static_cast<int>(slots_.size()) < options_.slots) {
        slots_.push_back(std::make_unique<Slot>());
        slots_.back()->seq = std::make_unique<Sequence>(model_, options_.kv_tokens);
        target = slots_.back().get();
        common = 0;
      }
      if (target == nullptr) {
        if (job->prepare_only) {  // every slot is busy: ahead-of-time work is not worth a wait
          waiting_.pop_front();
          continue;
        }
        break;
      }
      // A shared head that covers more of the prompt than the slot already does.
      const Slot* best_head = nullptr;
      size_t head_common = common;
      for (auto& h : heads_) {
        const size_t n = CommonPrefix(h->seq->tokens(), job->prompt);
        if (n > head_common) {
          best_head = h.get();
          head_common = n;
        }
      }
      if (best_head != nullptr) {
        target->seq->CopyPrefix(*best_head->seq, static_cast<int>(head_common));
        common = head_common;
        ++stats_.head_copies;
      }
    }
    waiting_.pop_front();
    // Evaluate at least the last prompt token: a generation needs its logits.
    if (common == job->prompt.size()) {
      if (job->prepare_only) continue;
      --common;
    }
    stats_.reused_tokens += static_cast<int64_t>(common);
    target->seq->Truncate(static_cast<int>(common));
    target->busy = true;
    target->used = ++clock_;
    job->slot = target;
    job->fed = common;
    job->result.prompt_tokens = static_cast<int>(job->prompt.size());
    job->result.reused_tokens = static_cast<int>(common);
    if (!job->prepare_only) {
      SamplingParams sampling = job->options.sampling;
      job->sampler = std::make_unique<Sampler>(sampling);
      job->text = std::make_unique<TextStream>(tokenizer_, job->options.stop);
    }
    running_.push_back(std::move(job));
  }
}

void Batcher::Step() {
  // Generations whose caller cancelled or stopped listening end before the pass.
  std::erase_if(running_, [&](const std::shared_ptr<Job>& job) {
    if (job->Cancelled()) {
      Finish(*job, Status::Cancelled("generation cancelled"));
      return true;
    }
    if (job->abandoned) {
      job->result.stop_reason = "stop";
      Finish(*job, Status::Ok());
      return true;
    }
    return false;
  });
  if (running_.empty()) return;
  // Every decoding job's next token, then prompt chunks (oldest first) within the step's budget.
  std::vector<BatchEntry> entries;
  std::vector<Job*> entry_job;
  std::vector<size_t> chunk;
  for (const auto& job : running_)
    if (job->decoding) {
      entries.push_back({job->slot->seq.get(), {job->next}, &job->logits});
      entry_job.push_back(job.get());
      chunk.push_back(0);
    }
  const int decoding = static_cast<int>(entries.size());
  size_t budget = static_cast<size_t>(options_.prefill_chunk);
  for (const auto& job : running_) {
    if (job->decoding || budget == 0) continue;
    const size_t n = std::min(budget, job->prompt.size() - job->fed);
    const bool last = job->fed + n == job->prompt.size();
    entries.push_back({job->slot->seq.get(),
                       std::vector<TokenId>(job->prompt.begin() + static_cast<std::ptrdiff_t>(job->fed),
                                            job->prompt.begin() + static_cast<std::ptrdiff_t>(job->fed + n)),
                       last && !job->prepare_only ? &job->logits : nullptr});
    entry_job.push_back(job.get());
    chunk.push_back(n);
    budget -= n;
  }
  const auto pass_start = Clock::now();
  const Status st = ForwardBatch(entries, nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.steps;
    stats_.busy_ms += MsSince(pass_start);
    if (st.ok() && decoding > 0) ++stats_.decode_steps;
    if (st.ok()) {
      stats_.decode_tokens += decoding;
      for (size_t n : chunk) stats_.prompt_tokens += static_cast<int64_t>(n);
      stats_.max_batch = std::max(stats_.max_batch, decoding);
    }
  }
  std::vector<Job*> finished;
  for (size_t i = 0; i < entries.size(); ++i) {
    Job& job = *entry_job[i];
    if (!st.ok()) {
      Finish(job, st);
      finished.push_back(&job);
      continue;
    }
    if (!job.decoding) {
      const size_t before = job.fed;
      job.fed += chunk[i];
      // The prompt just passed its shared head: keep the head for the prompts that follow.
      if (job.head_tokens > 0 && before < static_cast<size_t>(job.head_tokens) &&
          job.fed >= static_cast<size_t>(job.head_tokens) && options_.shared_heads > 0) {
        bool held = false;
        for (auto& h : heads_)
          held = held || CommonPrefix(h->seq->tokens(), job.prompt) >= static_cast<size_t>(job.head_tokens);
        if (Slot* head = held ? nullptr : NewHead(); head != nullptr)
          head->seq->CopyPrefix(*job.slot->seq, job.head_tokens);
      }
      if (job.fed < job.prompt.size()) continue;
      if (job.prepare_only) {
        Finish(job, Status::Ok());
        finished.push_back(&job);
        continue;
      }
      job.result.prompt_ms = MsSince(job.submitted);
      job.decoding = true;
    }
    // Fresh logits: the next token.
    std::string reason;
    if (job.Cancelled()) {
      Finish(job, Status::Cancelled("generation cancelled"));
      finished.push_back(&job);
      continue;
    }
    {
      const TokenId token = job.sampler->Sample(job.logits, job.slot->seq->tokens());
      if (job.generated == 0) {
        job.result.first_token_ms = MsSince(job.submitted);
        job.first_token_at = Clock::now();
      }
      if (tokenizer_.IsEndOfGeneration(token)) {
        reason = "eos";
      } else {
        job.result.tokens.push_back(token);
        ++job.generated;
        bool stopped = false;
        job.Push(job.text->Add(token, &stopped));
        if (stopped) {
          reason = "stop";
        } else if (job.generated >= job.options.max_tokens) {
          reason = "length";
        } else {
          job.next = token;
        }
      }
    }
    if (!reason.empty()) {
      if (reason != "stop") job.Push(job.text->Finish());
      job.result.stop_reason = reason;
      Finish(job, Status::Ok());
      finished.push_back(&job);
    }
  }
  if (!finished.empty())
    std::erase_if(running_, [&](const auto& j) { return std::find(finished.begin(), finished.end(), j.get()) != finished.end(); });
}

Batcher::Slot* Batcher::NewHead() {
  if (static_cast<int>(heads_.size()) >= options_.shared_heads) {
    auto lru = std::min_element(heads_.begin(), heads_.end(), [](const auto& a, const auto& b) {
      return !a->busy && (b->busy || a->used < b->used);
    });
    if (lru == heads_.end() || (*lru)->busy) return nullptr;
    heads_.erase(lru);
  }
  heads_.push_back(std::make_unique<Slot>());
  heads_.back()->seq = std::make_unique<Sequence>(model_, options_.kv_tokens);
  heads_.back()->used = ++clock_;
  return heads_.back().get();
}

void Batcher::Finish(Job& job, Status status) {
  if (job.slot != nullptr) {
    job.slot->busy = false;
    job.slot->used = ++clock_;
  }
  if (job.generated > 0) job.result.decode_ms = MsSince(job.first_token_at);
  std::lock_guard<std::mutex> lock(job.mu);
  job.status = std::move(status);
  job.done = true;
  job.cv.notify_one();
}

}  // namespace cadence::engine
