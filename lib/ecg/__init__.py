"""ECG arrhythmia detection with deep active learning (notebook ``01_odal_ecg``).

Paper: Prema V N, Spurgeon Williams G B, Suhirtha C K B, Vasudevan S S, "Prediction of High-Risk
Cardiac Arrhythmia Based on Optimized Deep Active Learning", International Journal of Scientific
Research and Engineering Development 8(6), 2025. Data: MIT-BIH Arrhythmia Database (PhysioNet ``mitdb``).
"""
