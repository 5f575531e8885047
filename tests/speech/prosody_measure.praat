# Prosody of a speech file, one line of key=value pairs (used by expressive_test.cc).
# F0 by autocorrelation 75-600 Hz; intensity in dB (energy mean); voiced duration from the
# pitch track; range as the 5-95 % F0 quantile span in semitones.
form measure
  sentence file
endform
s = Read from file: file$
p = To Pitch (ac): 0, 75, 15, "no", 0.03, 0.45, 0.01, 0.35, 0.14, 600
mean = Get mean: 0, 0, "Hertz"
q05 = Get quantile: 0, 0, 0.05, "semitones re 1 Hz"
q95 = Get quantile: 0, 0, 0.95, "semitones re 1 Hz"
voiced = Count voiced frames
selectObject: s
i = To Intensity: 75, 0, "yes"
im = Get mean: 0, 0, "energy"
selectObject: s
d = Get total duration
appendInfoLine: "f0_mean_hz=", fixed$(mean, 3), " f0_range_st=", fixed$(q95 - q05, 3), " intensity_db=", fixed$(im, 3), " duration_s=", fixed$(d, 4), " voiced_frames=", voiced
