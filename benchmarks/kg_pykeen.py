"""PyKEEN's side of ``make bench-kg``: one knowledge-graph embedding run, timed, as JSON.

Run by the benchmark's own environment (``benchmarks/.venv-pykeen``, PyKEEN 1.11.1), not by
gnnexp's: it imports nothing from gnnexp. It reads ``<data>/KG/<Name>/{train,valid,test}.txt``
with ``TriplesFactory.from_path`` (valid and test share train's entity and relation ids),
trains on 1 thread with seed 0 and prints one JSON object on stdout: the seconds of every
training epoch, the seconds of one full filtered evaluation of the test set (filtered against
train, valid and test), and test MRR, Hits@1/3/10 and mean rank by the realistic rank.

Regimes: ``1-n`` is PyKEEN's LCWA loop (every entity scored as the tail of each (head,
relation) pair, BCE with logits, inverse relations so that heads are tails of the inverse);
``neg`` is its sLCWA loop with ``--negatives`` uniformly corrupted triples per positive and
``--loss`` (``nssa``: self-adversarial, RotatE's; ``softplus``; ``bce``; ``margin``).
Models keep PyKEEN's own defaults (initialisers, constraints, regularisers): the library as
its users run it. ``--dim`` is PyKEEN's ``embedding_dim`` (complex components for ComplEx and
RotatE, as in PyG's ``kge`` classes).

Usage: python kg_pykeen.py --data DIR --dataset kinships --model rotate --dim 100
                           --regime neg --negatives 16 --epochs 90 [--lr 0.001] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

NAMES = {"kinships": "Kinships", "umls": "UMLS", "nations": "Nations"}
MODELS = {
    "transe": "TransE",
    "distmult": "DistMult",
    "complex": "ComplEx",
    "rotate": "RotatE",
    "rgcn": "RGCN",
}
LOSSES = {
    "nssa": "NSSALoss",
    "softplus": "SoftplusLoss",
    "bce": "BCEWithLogitsLoss",
    "margin": "MarginRankingLoss",
}


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="the data directory holding KG/")
    p.add_argument("--dataset", choices=sorted(NAMES), required=True)
    p.add_argument("--model", choices=sorted(MODELS), required=True)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--regime", choices=("1-n", "neg"), default="1-n")
    p.add_argument("--negatives", type=int, default=16, help="negatives per positive (regime neg)")
    p.add_argument("--loss", choices=sorted(LOSSES), help="default: bce for 1-n, nssa for neg")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--eval-batch-size", type=int, default=512)
    p.add_argument("--eval-repeats", type=int, default=3, help="evaluations of the test set timed (median)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--valid", action="store_true", help="also evaluate the validation set (not timed)")
    return p.parse_args()


def ranks(model: Any, triples: Any, filters: list[Any], batch_size: int) -> dict[str, float]:
    from pykeen.evaluation import RankBasedEvaluator  # type: ignore[import-not-found]  # PyKEEN lives in its own venv

    evaluator = RankBasedEvaluator(filtered=True)
    result = evaluator.evaluate(
        model, triples, batch_size=batch_size, use_tqdm=False, additional_filter_triples=filters
    )
    key = "both.realistic."
    return {
        "mrr": float(result.get_metric(key + "inverse_harmonic_mean_rank")),
        "hits@1": float(result.get_metric(key + "hits_at_1")),
        "hits@3": float(result.get_metric(key + "hits_at_3")),
        "hits@10": float(result.get_metric(key + "hits_at_10")),
        "mean_rank": float(result.get_metric(key + "arithmetic_mean_rank")),
    }


def main() -> int:
    args = parse()
    import torch
    from pykeen.losses import loss_resolver  # type: ignore[import-not-found]  # PyKEEN lives in its own venv
    from pykeen.models import model_resolver  # type: ignore[import-not-found]
    from pykeen.training import LCWATrainingLoop, SLCWATrainingLoop, TrainingCallback  # type: ignore[import-not-found]
    from pykeen.triples import TriplesFactory  # type: ignore[import-not-found]
    from pykeen.utils import set_random_seed  # type: ignore[import-not-found]
    from pykeen.version import get_version  # type: ignore[import-not-found]

    torch.set_num_threads(args.threads)
    set_random_seed(args.seed)
    folder = args.data / "KG" / NAMES[args.dataset]
    if not (folder / "train.txt").is_file():
        print(f"error: no {folder / 'train.txt'}; pass --data, the directory holding KG/", file=sys.stderr)
        return 2
    inverse = args.regime == "1-n"
    train = TriplesFactory.from_path(folder / "train.txt", create_inverse_triples=inverse)
    ids = {"entity_to_id": train.entity_to_id, "relation_to_id": train.relation_to_id}
    valid = TriplesFactory.from_path(folder / "valid.txt", create_inverse_triples=inverse, **ids)
    test = TriplesFactory.from_path(folder / "test.txt", create_inverse_triples=inverse, **ids)

    loss = LOSSES[args.loss or ("bce" if args.regime == "1-n" else "nssa")]
    model = model_resolver.make(
        MODELS[args.model],
        triples_factory=train,
        embedding_dim=args.dim,
        loss=loss_resolver.make(loss),
        random_seed=args.seed,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    if args.regime == "1-n":
        loop: Any = LCWATrainingLoop(model=model, triples_factory=train, optimizer=optimizer)
    else:
        loop = SLCWATrainingLoop(
            model=model,
            triples_factory=train,
            optimizer=optimizer,
            negative_sampler="basic",
            negative_sampler_kwargs={"num_negs_per_pos": args.negatives},
        )

    stamps = [time.perf_counter()]

    class EpochTimer(TrainingCallback):
        def post_epoch(self, epoch: int, epoch_loss: float, **kwargs: Any) -> None:
            stamps.append(time.perf_counter())

    loop.train(
        triples_factory=train,
        num_epochs=args.epochs,
        batch_size=args.batch_size,
        label_smoothing=args.label_smoothing,
        use_tqdm=False,
        use_tqdm_batch=False,
        callbacks=EpochTimer(),
        pin_memory=False,
    )
    trained = time.perf_counter()
    epochs = [b - a for a, b in itertools.pairwise(stamps)]
    model.eval()
    filters = [train.mapped_triples, valid.mapped_triples]
    evals = []
    for _ in range(args.eval_repeats):
        started = time.perf_counter()
        on_test = ranks(model, test.mapped_triples, filters, args.eval_batch_size)
        evals.append(time.perf_counter() - started)
    out: dict[str, Any] = {
        "side": "pykeen",
        "version": get_version(),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()} | {"loss": loss},
        "epoch_s": epochs,
        "train_s": trained - stamps[0],
        "eval_s": statistics.median(evals),
        "test": on_test,
    }
    if args.valid:
        out["valid"] = ranks(model, valid.mapped_triples, [train.mapped_triples, test.mapped_triples], 512)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
