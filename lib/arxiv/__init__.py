"""arXiv topic classification with a frozen BERT encoder and a small head (notebook ``02_arxiv_bert``).

Paper: I. A. Aushev, "Методы глубокого обучения в распознавании тематик статей" (Deep learning methods
for recognising the topics of articles), course report, Saint Petersburg State University, 2023; its
protocol is the linked public notebook ``bert_transfer_learning.ipynb`` (GitHub enoki1/some-scripts).
Data: the Kaggle arXiv metadata snapshot (JSON lines) and the Kaggle ``arxiv_data.csv``.
"""
