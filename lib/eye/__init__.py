"""Eye-disease image labelling with MobileNetV2 features and a self-organizing map
(notebook ``03_eye_mobilenet_som``).

Paper: C. G. Ilofulunwa, O. E. Akunne, "Intelligent Medical Image Data Labelling Healthcare Automation
Using Deep Learning Technique", IJORTACS 3(X), pp. 600-612, 2024. Data: Kaggle
``eye_diseases_classification`` (4 classes, 4,217 fundus images).
"""


def bar(progress: bool) -> dict:
    """tqdm keyword arguments: ``disable=True`` when progress is off, otherwise none, so that TQDM_DISABLE (set by
    the runner for executed copies) still turns the bars off (an explicit ``disable=False`` would override it)."""
    return {} if progress else {"disable": True}
