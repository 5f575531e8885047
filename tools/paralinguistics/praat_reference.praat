# Praat reference measures for Cadence's paralinguistics tests and evaluation.
# Usage: praat --run praat_reference.praat FILE.wav OUT_PREFIX
# Writes OUT_PREFIX.pitch.csv (time,f0 — 0 when unvoiced), OUT_PREFIX.intensity.csv (time,db),
# OUT_PREFIX.hnr.csv (time,db — -200 when unvoiced) and OUT_PREFIX.summary.csv with the mean
# intensity (energy), mean HNR, local jitter and local shimmer, all with Praat's standard settings.
form Praat reference
  sentence File
  sentence Prefix
endform
sound = Read from file: file$
pitch = To Pitch (ac): 0.01, 75, 15, "no", 0.03, 0.45, 0.01, 0.35, 0.14, 600
n = Get number of frames
out$ = prefix$ + ".pitch.csv"
writeFileLine: out$, "time,f0"
for i to n
  t = Get time from frame number: i
  f = Get value in frame: i, "Hertz"
  if f = undefined
    f = 0
  endif
  appendFileLine: out$, fixed$(t, 4), ",", fixed$(f, 3)
endfor
selectObject: sound
intensity = To Intensity: 100, 0.01, "yes"
n = Get number of frames
out$ = prefix$ + ".intensity.csv"
writeFileLine: out$, "time,db"
for i to n
  t = Get time from frame number: i
  v = Get value in frame: i
  if v = undefined
    v = -300
  endif
  appendFileLine: out$, fixed$(t, 4), ",", fixed$(v, 3)
endfor
meanIntensity = Get mean: 0, 0, "energy"
selectObject: sound
harmonicity = To Harmonicity (cc): 0.01, 75, 0.1, 1.0
n = Get number of frames
out$ = prefix$ + ".hnr.csv"
writeFileLine: out$, "time,db"
for i to n
  t = Get time from frame number: i
  v = Get value in frame: i
  appendFileLine: out$, fixed$(t, 4), ",", fixed$(v, 3)
endfor
meanHnr = Get mean: 0, 0
selectObject: sound, pitch
pulses = To PointProcess (cc)
jitter = Get jitter (local): 0, 0, 0.0001, 0.02, 1.3
selectObject: sound, pulses
shimmer = Get shimmer (local): 0, 0, 0.0001, 0.02, 1.3, 1.6
out$ = prefix$ + ".summary.csv"
writeFileLine: out$, "mean_intensity_db,mean_hnr_db,jitter,shimmer"
appendFileLine: out$, fixed$(meanIntensity, 3), ",", fixed$(meanHnr, 3), ",", fixed$(jitter, 6), ",", fixed$(shimmer, 6)
