"""Eye-disease image labelling with MobileNetV2 features and a self-organizing map
(notebook ``03_eye_mobilenet_som``).

Paper: C. G. Ilofulunwa, O. E. Akunne, "Intelligent Medical Image Data Labelling Healthcare Automation
Using Deep Learning Technique", IJORTACS 3(X), pp. 600-612, 2024. Data: Kaggle
``eye_diseases_classification`` (4 classes, 4,217 fundus images).
"""
