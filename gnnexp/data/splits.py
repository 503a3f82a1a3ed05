"""Seeded splits: random node masks, stratified graph splits and stratified k folds."""

from __future__ import annotations

import torch
from torch import Tensor


def random_node_masks(
    num_nodes: int, train_ratio: float, val_ratio: float, seed: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Boolean train/val/test masks over a seeded permutation of the nodes."""
    perm = torch.randperm(num_nodes, generator=torch.Generator().manual_seed(seed))
    n_train, n_val = int(train_ratio * num_nodes), int(val_ratio * num_nodes)
    masks = [torch.zeros(num_nodes, dtype=torch.bool) for _ in range(3)]
    masks[0][perm[:n_train]] = True
    masks[1][perm[n_train : n_train + n_val]] = True
    masks[2][perm[n_train + n_val :]] = True
    return masks[0], masks[1], masks[2]


def _groups(labels: Tensor) -> list[Tensor]:
    """Indices per class for integer labels; one group of everything for real-valued ones."""
    if labels.is_floating_point():
        return [torch.arange(labels.numel())]
    return [(labels == c).nonzero().view(-1) for c in labels.unique()]


def stratified_folds(labels: Tensor, k: int, seed: int) -> list[Tensor]:
    """``k`` disjoint index sets covering every example, each with the class proportions."""
    gen = torch.Generator().manual_seed(seed)
    assignment = torch.empty(labels.numel(), dtype=torch.long)
    offset = 0
    for members in _groups(labels):
        members = members[torch.randperm(members.numel(), generator=gen)]
        # Deal the shuffled members round-robin; rotating the start keeps fold sizes even.
        assignment[members] = (torch.arange(members.numel()) + offset) % k
        offset += members.numel()
    return [(assignment == f).nonzero().view(-1) for f in range(k)]


def stratified_split(
    labels: Tensor, val_ratio: float, test_ratio: float, seed: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Train/val/test indices with (approximately) the class proportions in each."""
    gen = torch.Generator().manual_seed(seed)
    parts: list[list[Tensor]] = [[], [], []]
    for members in _groups(labels):
        members = members[torch.randperm(members.numel(), generator=gen)]
        n_test = round(test_ratio * members.numel())
        n_val = round(val_ratio * members.numel())
        parts[2].append(members[:n_test])
        parts[1].append(members[n_test : n_test + n_val])
        parts[0].append(members[n_test + n_val :])
    train, val, test = (torch.cat(p).sort().values for p in parts)
    return train, val, test


def fold_split(
    labels: Tensor, k: int, fold: int, seed: int, held_out_only: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """Fold ``fold`` of stratified k-fold CV: it is the test set, the next fold validates.

    ``held_out_only`` (Xu et al.'s protocol): the other k-1 folds all train, and the fold is
    both the validation and the test set.
    """
    folds = stratified_folds(labels, k, seed)
    if held_out_only:
        train = torch.cat([f for i, f in enumerate(folds) if i != fold])
        return train.sort().values, folds[fold], folds[fold]
    test, val = folds[fold], folds[(fold + 1) % k]
    train = torch.cat([f for i, f in enumerate(folds) if i not in (fold, (fold + 1) % k)])
    return train.sort().values, val, test


def group_split(
    groups: list[str], val_ratio: float, test_ratio: float, seed: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Train/val/test indices that keep each group (e.g. a Bemis-Murcko scaffold) whole.

    As chemprop's balanced scaffold split: groups too big for half the validation or test
    set go to training first; the others follow in a seeded random order, filling
    training, then validation, then test. Test molecules then share no scaffold with
    training ones, which is the honest protocol for molecules.
    """
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    n = len(groups)
    n_val, n_test = round(val_ratio * n), round(test_ratio * n)
    n_train = n - n_val - n_test
    gen = torch.Generator().manual_seed(seed)
    sets = list(members.values())
    order = torch.randperm(len(sets), generator=gen).tolist()
    big = [sets[i] for i in order if len(sets[i]) > min(n_val, n_test) / 2]
    small = [sets[i] for i in order if len(sets[i]) <= min(n_val, n_test) / 2]
    parts: list[list[int]] = [[], [], []]
    for group_members in big + small:
        if len(parts[0]) + len(group_members) <= n_train:
            parts[0] += group_members
        elif len(parts[1]) + len(group_members) <= n_val:
            parts[1] += group_members
        else:
            parts[2] += group_members
    train, val, test = (torch.tensor(sorted(p), dtype=torch.long) for p in parts)
    return train, val, test
