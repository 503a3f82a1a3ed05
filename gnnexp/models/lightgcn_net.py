"""PyG's LightGCN over one user-item edge type, giving an embedding per node type."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn.models import LightGCN

EdgeType = tuple[str, str, str]


class LightGCNEncoder(torch.nn.Module):
    """LightGCN on the edges of ``edge_type`` (users ``src``, items ``dst``), both directions.

    ``forward`` takes the same inputs as a heterogeneous encoder (features by node type,
    edges by edge type) and reads only ``edge_type``'s edges: the reverse edges it
    propagates over are those edges flipped, so a held-out pair can carry no message.
    """

    def __init__(self, edge_type: EdgeType, num_src: int, num_dst: int, width: int, num_layers: int) -> None:
        super().__init__()
        self.edge_type = edge_type
        self.num_src = num_src
        self.num_dst = num_dst
        self.net = LightGCN(num_src + num_dst, width, num_layers)

    def forward(
        self, x_dict: dict[str, Tensor], edge_index_dict: dict[EdgeType, Tensor]
    ) -> dict[str, Tensor]:
        src, dst = edge_index_dict[self.edge_type]
        dst = dst + self.num_src
        edges = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
        z = self.net.get_embedding(edges)
        return {self.edge_type[0]: z[: self.num_src], self.edge_type[2]: z[self.num_src :]}

    def __repr__(self) -> str:
        src, rel, dst = self.edge_type
        return (
            f"LightGCN({self.num_src} {src} + {self.num_dst} {dst} over {rel}, "
            f"width={self.net.embedding_dim}, layers={self.net.num_layers})"
        )
