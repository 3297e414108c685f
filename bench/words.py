"""Plausible paper text for the generators: titles, short abstracts, authors and categories, from a seeded RNG.

Texts are drawn from pools so a million papers take seconds to make; the topics double as channel keywords, so
keyword filters match a realistic few per cent of a day's papers.
"""

from __future__ import annotations

import random

CATEGORIES = (
    ("cs.LG", 24),
    ("cs.CV", 14),
    ("cs.CL", 12),
    ("cs.AI", 9),
    ("cs.RO", 5),
    ("cs.CR", 4),
    ("cs.IR", 3),
    ("cs.SE", 3),
    ("cs.DS", 2),
    ("cs.NE", 2),
    ("cs.DC", 2),
    ("cs.HC", 2),
    ("cs.SI", 2),
    ("cs.CY", 2),
    ("cs.GT", 1),
    ("cs.IT", 1),
    ("cs.LO", 1),
    ("cs.PL", 1),
    ("cs.NI", 1),
    ("cs.DB", 1),
    ("cs.SD", 1),
    ("cs.MA", 1),
    ("cs.GR", 1),
    ("cs.CG", 1),
    ("stat.ML", 4),
    ("eess.IV", 2),
    ("math.OC", 1),
    ("quant-ph", 1),
)
TOPICS = (
    "transformer",
    "diffusion model",
    "graph neural network",
    "reinforcement learning",
    "large language model",
    "contrastive learning",
    "federated learning",
    "differential privacy",
    "robot manipulation",
    "speech recognition",
    "object detection",
    "retrieval augmented generation",
    "protein folding",
    "time series",
    "causal inference",
    "quantization",
    "benchmark",
    "agents",
    "multimodal",
    "in-context learning",
    "mixture of experts",
    "vision transformer",
    "point cloud",
    "knowledge distillation",
    "adversarial robustness",
    "program synthesis",
    "theorem proving",
    "sparse attention",
    "neural radiance field",
    "optimal transport",
    "active learning",
    "semantic segmentation",
    "code generation",
    "world model",
    "continual learning",
    "uncertainty estimation",
)
_ADJECTIVES = (
    "Scalable",
    "Efficient",
    "Robust",
    "Provable",
    "Sparse",
    "Self-Supervised",
    "Adaptive",
    "Faster",
    "Interpretable",
    "Unified",
    "Hierarchical",
    "Lightweight",
    "Generalizable",
    "Towards",
)
_DOMAINS = (
    "medical imaging",
    "autonomous driving",
    "low-resource languages",
    "edge devices",
    "climate data",
    "recommendation",
    "scientific discovery",
    "finance",
    "education",
    "legal documents",
    "chemistry",
    "video understanding",
    "dialogue",
    "tabular data",
    "3D scenes",
    "software repositories",
)
_METHODS = ("method", "framework", "estimator", "architecture", "training recipe", "objective", "algorithm")
_METRICS = ("accuracy", "sample efficiency", "latency", "calibration", "F1", "robustness", "throughput")
_DATASETS = ("ImageNet", "GLUE", "MMLU", "COCO", "LibriSpeech", "Atari", "ogbn-arxiv", "KITTI", "SQuAD", "HumanEval")
_FIRST = (
    "Ada",
    "Alan",
    "Grace",
    "Yann",
    "Fei-Fei",
    "Geoffrey",
    "Yoshua",
    "Daphne",
    "Andrew",
    "Ivan",
    "Percy",
    "Chelsea",
    "Sergey",
    "Pieter",
    "Kate",
    "Jia",
    "Ruslan",
    "Oriol",
    "Samy",
    "Hugo",
    "Mirella",
    "Luke",
    "Regina",
    "Tommi",
    "Jure",
    "Ilya",
    "Dawn",
    "Noah",
    "Emma",
    "Lin",
    "Wei",
    "Mei",
    "Ravi",
    "Anima",
)
_LAST = (
    "Lovelace",
    "Turing",
    "Hopper",
    "LeCun",
    "Li",
    "Hinton",
    "Bengio",
    "Koller",
    "Ng",
    "Titov",
    "Liang",
    "Finn",
    "Levine",
    "Abbeel",
    "Saenko",
    "Deng",
    "Salakhutdinov",
    "Vinyals",
    "Bengio",
    "Larochelle",
    "Lapata",
    "Zettlemoyer",
    "Barzilay",
    "Jaakkola",
    "Leskovec",
    "Sutskever",
    "Song",
    "Smith",
    "Strubell",
    "Zhang",
    "Wang",
    "Chen",
    "Kumar",
    "Anandkumar",
    "Garcia",
    "Müller",
    "Okafor",
    "Nakamura",
    "Silva",
)


class TextPool:
    """Pools of titles, abstracts and author lists; `paper_text(i)` picks a combination for paper i."""

    def __init__(self, rng: random.Random, *, size: int = 20_000) -> None:
        self._rng = rng
        names, weights = zip(*CATEGORIES, strict=True)
        self._cat_names, self._cat_weights = list(names), list(weights)
        self.authors = [f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(3_000)]
        self.titles = [self._title() for _ in range(size)]
        self.abstracts = [self._abstract() for _ in range(size)]
        self.author_lists = [rng.sample(self.authors, rng.randint(1, 5)) for _ in range(size)]
        self.category_lists = [self._categories() for _ in range(size)]

    def fresh(self) -> tuple[str, str, list[str], list[str]]:
        """A new title, abstract, author list and category list (for the papers a benchmark looks at closely)."""
        return (
            self._title(),
            self._abstract(),
            self._rng.sample(self.authors, self._rng.randint(1, 5)),
            self._categories(),
        )

    def _title(self) -> str:
        rng = self._rng
        topic = rng.choice(TOPICS)
        return f"{rng.choice(_ADJECTIVES)} {topic.title()} for {rng.choice(_DOMAINS).title()}"

    def _abstract(self) -> str:
        rng = self._rng
        first, second = rng.sample(TOPICS, 2)
        return (
            f"We study {first} for {rng.choice(_DOMAINS)}. Our {rng.choice(_METHODS)} combines {first} with "
            f"{second} and improves {rng.choice(_METRICS)} by {rng.randint(2, 40)}% on {rng.choice(_DATASETS)}. "
            f"Code is available."
        )

    def _categories(self) -> list[str]:
        rng = self._rng
        wanted = rng.choices(self._cat_names, self._cat_weights, k=rng.choice((1, 1, 2, 2, 3)))
        return list(dict.fromkeys(wanted))
