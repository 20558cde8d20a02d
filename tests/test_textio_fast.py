"""The numpy text reader: id lookups (table and binary search), optional fields, canonical order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxsilica.errors import InputError
from paxsilica.sim import SupplyNetwork
from paxsilica.sim.textio import read_network, read_shocks

LINKS = [(0, 1, 2.5), (1, 2, 1.0), (2, 0, 4.0), (0, 2, 0.5)]  # firm positions, amount
FD = [1.0, 0.0, 3.0]
SECTORS = [7, 7, 9]


def write(tmp: Path, ids: list[int], links: list[tuple[int, int, float]] = LINKS,
          sectors: str | None = None) -> tuple[Path, Path, Path]:
    (tmp / "l").write_text("".join(f"{ids[a]} {ids[b]} {v!r}\n" for a, b, v in links))
    (tmp / "c").write_text("".join(f"{ids[k]} {v!r}\n" for k, v in enumerate(FD) if v > 0))
    (tmp / "s").write_text(sectors if sectors is not None else
                           "".join(f"{ids[k]} {s} 0\n" for k, s in enumerate(SECTORS)))
    return tmp / "l", tmp / "c", tmp / "s"


def expected(ids: list[int]) -> SupplyNetwork:
    a, b, v = zip(*LINKS, strict=True)
    return SupplyNetwork.from_arrays(list(a), list(b), list(v), final_demand=FD, sector=[0, 0, 1],
                                     firm_ids=ids)


@pytest.mark.parametrize("ids", [[0, 1, 2], [3, 1, 2], [10**15, -7, 2**62], [-3, -2, -1]])
def test_ids_dense_or_sparse_give_the_same_network(tmp_path: Path, ids: list[int]) -> None:
    net = read_network(*write(tmp_path, ids))
    want = expected(ids)
    assert net.firm_ids.tolist() == ids
    for name in ("supplier", "client", "amount", "final_demand", "sector", "by_supplier", "seg_start"):
        assert getattr(net, name).tolist() == getattr(want, name).tolist(), name


@pytest.mark.parametrize("ids", [[1, 2, 1], [10**15, 5, 10**15]])
def test_repeated_firm_named_in_both_lookups(tmp_path: Path, ids: list[int]) -> None:
    files = write(tmp_path, [1, 2, 3], sectors="".join(f"{i} 1\n" for i in ids))
    with pytest.raises(InputError) as exc:
        read_network(*files)
    assert (exc.value.row, exc.value.column) == (3, "firm")
    assert "listed twice" in exc.value.message


@pytest.mark.parametrize("bad", [-1, 4, 10**18])
def test_unknown_id_outside_the_table(tmp_path: Path, bad: int) -> None:
    links = LINKS + [(0, 3, 1.0)]
    ids = [1, 2, 3, bad]
    l_, c, s = write(tmp_path, ids, links=links)
    s.write_text("1 7\n2 7\n3 9\n")
    with pytest.raises(InputError) as exc:
        read_network(l_, c, s)
    assert (exc.value.file, exc.value.row, exc.value.column) == (str(l_), 5, "client")
    assert f"unknown firm id {bad}" in exc.value.message


@pytest.mark.parametrize("sectors", ["1 7\n2 7 5.5\n3 9\n", "1 7\n2 7\n3 9\n", "1 7 1\n2 7 2\n3 9 3\n"])
def test_optional_sales_in_some_all_or_no_lines(tmp_path: Path, sectors: str) -> None:
    net = read_network(*write(tmp_path, [1, 2, 3], sectors=sectors))
    assert net.sector.tolist() == [0, 0, 1] and net.sector_names == ("7", "9")


def test_bad_optional_field_is_located(tmp_path: Path) -> None:
    files = write(tmp_path, [1, 2, 3], sectors="1 7\n2 7 inf\n3 9\n")
    with pytest.raises(InputError) as exc:
        read_network(*files)
    assert (exc.value.row, exc.value.column) == (2, "sales")


def test_shocks_mixed_day_fields(tmp_path: Path) -> None:
    net = read_network(*write(tmp_path, [5, 6, 7]))
    p = tmp_path / "sh"
    p.write_text("7 0.5\n5 0.25 3\n")
    s = read_shocks(p, net)
    assert (s.firm.tolist(), s.delta.tolist(), s.day.tolist()) == ([2, 0], [0.5, 0.25], [0, 3])


@settings(max_examples=25, deadline=None)
@given(st.permutations(list(range(len(LINKS)))), st.sampled_from([[0, 1, 2], [40, 10, 20], [10**12, 3, -9]]))
def test_link_order_in_the_file_does_not_matter(perm: list[int], ids: list[int]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        net = read_network(*write(Path(tmp), ids, links=[LINKS[k] for k in perm]))
    want = expected(ids)
    assert net.supplier.tolist() == want.supplier.tolist()
    assert net.amount.tolist() == want.amount.tolist()
    # original_link_index points back into the file's lines
    assert [perm[k] for k in net.original_link_index] == want.original_link_index.tolist()
    assert np.array_equal(net.baseline_output, want.baseline_output)


@pytest.mark.parametrize("top", [3, 2**16, 2**16 + 1, 2**33, 2**62])
def test_radix_argsort_is_the_stable_argsort(top: int) -> None:
    from paxsilica.sim.network import _stable_argsort

    key = np.random.default_rng(top % 1000).integers(0, top, 70_000)
    assert np.array_equal(_stable_argsort(key), np.argsort(key, kind="stable"))


def test_large_network_in_any_link_order_is_the_same() -> None:
    """Above 2^16 links the canonical sort and the supplier order use the radix passes."""
    from paxsilica.sim.network import random_network

    net = random_network(20_000, 80_000, 7, seed=3)
    perm = np.random.default_rng(0).permutation(net.n_links)
    again = SupplyNetwork.from_arrays(net.supplier[perm], net.client[perm], net.amount[perm],
                                      final_demand=net.final_demand, sector=net.sector)
    for name in ("supplier", "client", "amount", "by_supplier", "supplier_start", "seg_start"):
        assert np.array_equal(getattr(net, name), getattr(again, name)), name
    assert np.array_equal(perm[again.original_link_index], np.arange(net.n_links))
