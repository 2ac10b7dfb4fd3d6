import json

from recengine.__main__ import main
from recengine.bench_search import default_dims, default_extractors
from recengine.features.handcrafted import HandcraftedExtractor


def test_defaults_are_lite0_and_handcrafted_sizes_and_offline_extractors():
    assert default_dims() == [1280, HandcraftedExtractor.dim]
    assert default_extractors()[:2] == ["handcrafted", "test_efficientnet"]


def test_bench_search_times_description_and_search_apart(tmp_path, capsys):
    out = tmp_path / "search.json"
    argv = ["bench-search", "--sizes", "300,1000", "--dims", "16", "--queries", "20"]
    argv += ["--extractors", "handcrafted", "--kinds", "flat,auto,hnsw", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    steps = [(row["step"], row["extractor"]) for row in report["describe"]]
    assert steps == [("decode", "PIL open + RGB"), ("describe", "handcrafted")]
    assert report["describe"][1]["dim"] == HandcraftedExtractor.dim
    rows = report["search"]
    # auto is flat at these sizes: timed once, as the kind build picks
    assert [(r["items"], r["index"], r["picked_by_build"]) for r in rows] == [
        (300, "flat", True),
        (300, "hnsw", False),
        (1000, "flat", True),
        (1000, "hnsw", False),
    ]
    for row in rows:
        assert 0 < row["median_ms"] <= row["p95_ms"]
    assert all(r["recall_at_k_vs_exact"] == 1.0 for r in rows if r["index"] == "flat")
    assert report["machine"]["cpu_count"] and report["queries"] == 20
    printed = capsys.readouterr().out
    assert "Describing one photo" in printed and "ItemIndex.build picks it" in printed
