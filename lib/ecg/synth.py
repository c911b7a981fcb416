"""Synthetic multi-patient ECG (SYNTHETIC DATA) written as WFDB records.

Each beat is a sum of Gaussian waves (P, Q, R, S, T; McSharry-style) placed at
the beat's R time; each patient draws its own wave amplitudes/widths (and some
patients have bundle-branch-block morphology, symbols L/R), so morphology is
patient-specific. Rhythm episodes (annotated with ``'+'`` and ``aux_note``):

==========  ===================================================================
``(N``      normal sinus, HRV ~3%, occasional A / V / F / Q ectopic beats
``(NOD``    nodal (junctional) rhythm: no P waves, regular, slow (RR 1.6-2.0 x the patient's)
``(AFIB``   atrial fibrillation: no P waves, 4-8 Hz fibrillatory baseline,
            irregular RR (gamma-distributed)
``(AFL``    atrial flutter: ~5 Hz saw-tooth, regular 2:1 / 4:1 conduction
``(VT``     ventricular tachycardia: wide-QRS V beats, RR 0.33-0.45 s
``(B``      ventricular bigeminy: N, V (premature, wide) alternating
==========  ===================================================================

Lead 0 is MLII, lead 1 V1 (other projection weights). Baseline wander (0.05-0.4
Hz sinusoids), white noise and 60 Hz mains are added. 360 Hz, WFDB format 212.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FS = 360
LEADS = ["MLII", "V1"]
#: wave -> (amplitude mV, offset s, width s) of a normal beat in MLII
NORMAL_WAVES = {
    "P": (0.15, -0.20, 0.025),
    "Q": (-0.10, -0.035, 0.010),
    "R": (1.0, 0.0, 0.011),
    "S": (-0.25, 0.035, 0.011),
    "T": (0.30, 0.26, 0.050),
}
V1_WEIGHTS = {"P": 0.6, "Q": 0.0, "R": 0.35, "S": 2.2, "T": -0.3}
ABNORMAL_RHYTHMS = ["(AFIB", "(VT", "(B", "(NOD", "(AFL"]


def _patient_morphology(rng: np.random.Generator, bbb: str | None) -> dict:
    waves = {}
    for k, (a, o, w) in NORMAL_WAVES.items():
        waves[k] = (a * rng.lognormal(0, 0.2), o * rng.uniform(0.9, 1.1), w * rng.uniform(0.85, 1.2))
    if bbb is not None:  # wider QRS, notched (rsR' in V1 for RBBB)
        a, o, w = waves["R"]
        waves["R"] = (a * 0.8, o, w * 2.0)
        waves["S"] = (waves["S"][0] * 1.5, 0.06, waves["S"][2] * 2.0)
        waves["T"] = (-abs(waves["T"][0]) if bbb == "L" else waves["T"][0], waves["T"][1] + 0.03, waves["T"][2])
    return waves


def _beat_waves(kind: str, morph: dict, rng: np.random.Generator) -> dict:
    """Waves of one beat of ``kind`` in {'N', 'A', 'V', 'F', 'Q', 'N_noP'}."""
    w = dict(morph)
    if kind == "N_noP":
        w.pop("P")
    elif kind == "A":
        a, o, wd = w["P"]
        w["P"] = (-0.6 * a, o + 0.05, wd * 0.8)  # ectopic (inverted, late) P
    elif kind in ("V", "F"):
        ra = morph["R"][0]
        v = {"R": (1.3 * ra, 0.0, 0.035), "S": (-0.6 * ra, 0.07, 0.04), "T": (-0.5 * ra, 0.30, 0.07)}
        if kind == "V":
            w = v
        else:  # fusion: halfway between normal and ventricular
            w = {
                k: tuple(0.5 * np.asarray(w.get(k, (0, 0, 0.02))) + 0.5 * np.asarray(v.get(k, w[k])))
                for k in set(w) | set(v)
            }
    elif kind == "Q":
        w = {k: (a * rng.uniform(0.3, 1.5), o, wd * rng.uniform(0.7, 2.0)) for k, (a, o, wd) in w.items()}
    return w


def _render(sig: np.ndarray, t_r: float, waves: dict, scale: float = 1.0) -> None:
    """Add one beat (both leads) centred on time t_r (s) into sig (n, 2) in place."""
    n = sig.shape[0]
    lo, hi = max(0, int((t_r - 0.45) * FS)), min(n, int((t_r + 0.65) * FS))
    if hi <= lo:
        return
    t = np.arange(lo, hi) / FS - t_r
    for k, (a, o, wd) in waves.items():
        g = a * scale * np.exp(-0.5 * ((t - o) / wd) ** 2)
        sig[lo:hi, 0] += g
        sig[lo:hi, 1] += V1_WEIGHTS.get(k, 0.5) * g


def _episode_beats(
    rhythm: str, t0: float, t1: float, base_rr: float, rng: np.random.Generator, sym_n: str
) -> list[tuple[float, str, str]]:
    """(time_s, annotation symbol, waveform kind) of the beats in [t0, t1)."""
    beats, t = [], t0 + 0.3
    cycle = 0
    while t < t1:
        if rhythm == "(N":
            rr = base_rr * (1 + 0.03 * rng.standard_normal())
            u = rng.random()
            if u < 0.04:
                beats.append((t - 0.3 * rr, "A", "A")) if beats else None
            elif u < 0.08 and beats:
                beats.append((t - 0.35 * rr, "V", "V"))
                t += 0.25 * rr  # compensatory pause
            elif u < 0.088:
                beats.append((t, "F", "F"))
                t += rr
                continue
            elif u < 0.092:
                beats.append((t, "Q", "Q"))
                t += rr
                continue
            beats.append((t, sym_n, "N"))
            t += rr
        elif rhythm == "(NOD":
            beats.append((t, sym_n, "N_noP"))
            t += base_rr * rng.uniform(1.6, 2.0) * (1 + 0.03 * rng.standard_normal())
        elif rhythm == "(AFIB":
            beats.append((t, sym_n, "N_noP"))
            t += max(0.3, base_rr * 0.8 * rng.gamma(6.0, 1 / 6.0))
        elif rhythm == "(AFL":
            beats.append((t, sym_n, "N_noP"))
            t += (2 if rng.random() < 0.7 else 4) * rng.uniform(0.19, 0.21)
        elif rhythm == "(VT":
            beats.append((t, "V", "V"))
            t += rng.uniform(0.33, 0.45) * (1 + 0.02 * rng.standard_normal())
        elif rhythm == "(B":
            if cycle % 2 == 0:
                beats.append((t, sym_n, "N"))
                t += 0.6 * base_rr
            else:
                beats.append((t, "V", "V"))
                t += 1.4 * base_rr
            cycle += 1
        else:
            raise ValueError(f"rhythm must be one of {['(N'] + ABNORMAL_RHYTHMS}, got {rhythm!r}")
    return [b for b in beats if t0 < b[0] < t1]


def synth_patient(
    index: int,
    seed: int,
    duration_s: float,
    noise_mv: float = 0.03,
    wander_mv: float = 0.2,
    mains_mv: float = 0.02,
) -> dict:
    """One synthetic patient. Returns {'signal': (n, 2) mV, 'samples', 'symbols', 'aux'} (annotations sorted).

    Patient ``index`` gets two abnormal rhythms from ABNORMAL_RHYTHMS in rotation,
    so every rhythm appears in several patients.
    """
    rng = np.random.default_rng([seed, index])
    n = int(duration_s * FS)
    bbb = ["L", "R", None, None][index % 4]
    sym_n = bbb or "N"
    morph = _patient_morphology(rng, bbb)
    base_rr = 60.0 / rng.uniform(62, 92)
    abnormal = [ABNORMAL_RHYTHMS[index % 5], ABNORMAL_RHYTHMS[(index + 2) % 5]]
    plan, t = [], 0.0
    k = 0
    while t < duration_s - 5:
        rhythm = "(N" if k % 2 == 0 else abnormal[(k // 2) % 2]
        length = rng.uniform(20, 35) if rhythm != "(VT" else rng.uniform(6, 12)
        plan.append((t, min(duration_s, t + length), rhythm))
        t += length
        k += 1
    sig = np.zeros((n, 2))
    ann = []
    for t0, t1, rhythm in plan:
        ann.append((int(t0 * FS), "+", rhythm))
        beats = _episode_beats(rhythm, t0, t1, base_rr, rng, sym_n)
        for tb, sym, kind in beats:
            _render(sig, tb, _beat_waves(kind, morph, rng), scale=1 + 0.03 * rng.standard_normal())
            ann.append((int(round(tb * FS)), sym, ""))
        i0, i1 = int(t0 * FS), min(n, int(t1 * FS))
        tt = np.arange(i0, i1) / FS
        if rhythm == "(AFIB":
            f = sum(
                0.03 * rng.uniform(0.5, 1.5) * np.sin(2 * np.pi * rng.uniform(4, 8) * tt + rng.uniform(0, 6.3))
                for _ in range(3)
            )
            sig[i0:i1, 0] += f
            sig[i0:i1, 1] += 2 * f
        elif rhythm == "(AFL":
            saw = 0.12 * (2 * ((tt * rng.uniform(4.8, 5.2)) % 1.0) - 1)
            sig[i0:i1, 0] += saw
            sig[i0:i1, 1] += 0.8 * saw
    tt = np.arange(n) / FS
    for lead in range(2):
        for _ in range(3):
            sig[:, lead] += (
                wander_mv * rng.uniform(0.3, 1) * np.sin(2 * np.pi * rng.uniform(0.05, 0.4) * tt + rng.uniform(0, 6.3))
            )
        sig[:, lead] += mains_mv * np.sin(2 * np.pi * 60 * tt + rng.uniform(0, 6.3))
        sig[:, lead] += noise_mv * rng.standard_normal(n)
    ann.sort(key=lambda a: (a[0], a[1] != "+"))
    samples = np.array([a[0] for a in ann], dtype=np.int64)
    keep = (samples >= 0) & (samples < n)
    return {
        "signal": np.clip(sig, -5.0, 5.0),
        "samples": samples[keep],
        "symbols": [a[1] for a, k in zip(ann, keep) if k],
        "aux": [a[2] for a, k in zip(ann, keep) if k],
    }


def write_record(
    out_dir: Path,
    name: str,
    signal: np.ndarray,
    samples,
    symbols,
    aux,
    *,
    comments: list[str] | None = None,
    leads: list[str] | None = None,
) -> None:
    """Write ``name.hea/.dat`` (format 212, gain 200/mV) and ``name.atr`` into out_dir."""
    import wfdb

    nsig = signal.shape[1]
    wfdb.wrsamp(
        name,
        fs=FS,
        units=["mV"] * nsig,
        sig_name=leads or LEADS[:nsig],
        p_signal=signal,
        fmt=["212"] * nsig,
        adc_gain=[200.0] * nsig,
        baseline=[1024] * nsig,
        comments=comments or ["synthetic"],
        write_dir=str(out_dir),
    )
    wfdb.wrann(
        name,
        "atr",
        np.asarray(samples, dtype=np.int64),
        symbol=list(symbols),
        aux_note=[a if a else "" for a in aux],
        fs=FS,
        write_dir=str(out_dir),
    )


def write_synthetic_records(out_dir: Path, names: list[str], *, seed: int, duration_s: float, **kwargs) -> None:
    """Generate and write one record per name (patient index = position in names)."""
    for i, name in enumerate(names):
        p = synth_patient(i, seed, duration_s=duration_s, **kwargs)
        write_record(
            Path(out_dir),
            name,
            p["signal"],
            p["samples"],
            p["symbols"],
            p["aux"],
            comments=[f"synthetic patient {i} seed {seed}"],
        )
