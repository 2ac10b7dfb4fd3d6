"""The client side of `manage.py bench_pages`: a logged-in HTTP session (standard library
only, so it measures the site as a browser reaches it, not a test client), the URLs of
each page built from the prepared gallery, and percentiles of the timings."""

import http.cookiejar
import random
import re
import time
import urllib.parse
import urllib.request

import numpy as np

TARGET_P95_MS = 300.0


class PageSession:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> tuple[int, bytes, float]:
        """(status, body, seconds) of a GET, the body read in full."""
        started = time.perf_counter()
        with self.opener.open(self.base_url + path, timeout=60) as response:
            body = response.read()
            status = response.status
            if "/accounts/login/" in response.url and not path.startswith("/accounts/"):
                raise RuntimeError(f"{path} sent the session to the login page")
        return status, body, time.perf_counter() - started

    def log_in(self, username: str, password: str) -> None:
        _, body, _ = self.get("/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
        data = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(
            self.base_url + "/accounts/login/",
            data=data,
            headers={"Referer": self.base_url + "/accounts/login/"},
        )
        with self.opener.open(request, timeout=60) as response:
            if "/accounts/login/" in response.url:
                raise RuntimeError("could not log in to the benchmarked site")


def gallery_steps(folder, options) -> list[list[str]]:
    """The manage.py commands that make a benchmark gallery in ``folder``: migrate, the demo
    generator at the asked sizes, and bench_pages' trainings (shared by bench_load)."""
    return [
        ["migrate", "-v", "0"],
        [
            "make_demo_gallery",
            "--artworks",
            str(options["artworks"]),
            "--collectors",
            str(options["collectors"]),
            "--image-size",
            str(options["image_size"]),
            "-v",
            "0",
        ],
        ["bench_pages", "--prepare", "--folder", str(folder)],
    ]


def page_urls(plan: dict, requests: int, seed: int = 0) -> dict[str, list[str]]:
    """Per page, `requests` URLs that vary the collector, work, filters and picks."""
    rng = random.Random(seed)
    jobs = plan["jobs"]

    def pick(values):
        return values[rng.randrange(len(values))]

    def catalogue() -> str:
        choices = [
            {},
            {"medium": pick(plan["media"]), "status": "available", "sort": "price"},
            {"q": pick(plan["words"])},
            {"tag": pick(plan["tags"]), "price_min": 200, "price_max": 3000, "page": 2},
            {"artist": pick(plan["artists"]), "listed_from": "2023-03-01", "sort": "title"},
            {"status": "sold", "sort": "-price", "page": rng.randint(2, 50)},
        ]
        return "/catalogue/?" + urllib.parse.urlencode(pick(choices))

    def compare() -> str:
        methods = ["visrank", "popularity", f"job:{jobs['random']}"]
        return "/compare/?" + urllib.parse.urlencode(
            {"collector": pick(plan["collectors"]), "m": methods, "k": 10}, doseq=True
        )

    def visitor() -> str:
        picks = rng.sample(plan["artworks"], rng.randint(3, 10))
        return "/visitor/?" + urllib.parse.urlencode(
            {"seed": rng.randrange(1000), "pick": picks, "go": 1}, doseq=True
        )

    makers = {
        "catalogue (filters, search)": catalogue,
        "work page": lambda: f"/catalogue/{pick(plan['artworks'])}/",
        "collector list": lambda: f"/?page={rng.randint(1, max(1, plan['collector_pages']))}",
        "collector page": lambda: (
            f"/collectors/{pick(plan['collectors'])}/?method="
            + pick(["visrank", "visrank", "popularity"])
        ),
        "side by side (3 methods)": compare,
        "method comparison": lambda: (
            "/methods/?"
            + urllib.parse.urlencode(
                {
                    "sort": "-NDCG@20",
                    "a": jobs["visrank"],
                    "b": jobs["popularity"],
                    "metric": "NDCG@20",
                }
            )
        ),
        "new visitor results": visitor,
        "jobs": lambda: "/jobs/",
    }
    return {name: [make() for _ in range(requests)] for name, make in makers.items()}


def measure(session: PageSession, urls: dict[str, list[str]], progress=None) -> dict:
    """Times every URL once after one untimed warm-up request per page (the first request
    of a process loads models and features; it is reported apart as first_ms)."""
    report = {}
    for name, paths in urls.items():
        status, body, first = session.get(paths[0])
        if status != 200 or not body:
            raise RuntimeError(f"{name}: {paths[0]} answered {status}")
        timings = []
        for path in paths:
            status, body, seconds = session.get(path)
            if status != 200:
                raise RuntimeError(f"{name}: {path} answered {status}")
            timings.append(seconds * 1000)
        values = np.asarray(timings)
        report[name] = {
            "requests": len(values),
            "p50_ms": round(float(np.percentile(values, 50)), 1),
            "p95_ms": round(float(np.percentile(values, 95)), 1),
            "mean_ms": round(float(values.mean()), 1),
            "max_ms": round(float(values.max()), 1),
            "first_ms": round(first * 1000, 1),
            "example": paths[0],
        }
        if progress:
            progress(name, report[name])
    return report
