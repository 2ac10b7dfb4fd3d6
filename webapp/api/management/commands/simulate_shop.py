"""`manage.py simulate_shop`: the demo's collectors shop through the API by their hidden
tastes, inside an experiment that explores, and the off-policy estimates of each arm's
method from the other arm's lists are checked against the simulated truth."""

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from webapp.api.experiments import experiment_running, experiment_start
from webapp.api.lists import ListError, job_for
from webapp.api.offpolicy import job_estimates, logged_lists
from webapp.api.shop_simulation import (
    HttpShop,
    InProcessShop,
    shop_simulate,
    shoppers_load,
    simulated_truth,
)
from webapp.api.tokens import api_client_create, api_client_revoke
from webapp.permissions import command_user, user_argument_add


class Command(BaseCommand):
    help = "Replay the demo gallery's collectors as shoppers against the API (seeded, bounded)."

    def add_arguments(self, parser):
        parser.add_argument("--visits", type=int, default=400)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--k", type=int, default=10, help="works per list")
        parser.add_argument("--url", default="", help="the running site (default: in process)")
        parser.add_argument(
            "--methods",
            default="visrank,curatornet",
            help="the experiment's arms, when none is running",
        )
        parser.add_argument(
            "--epsilon",
            type=float,
            default=0.2,
            help="exploration in each arm (propensities are recorded)",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            help="seconds to wait for the arms' models to be trained",
        )
        parser.add_argument("--report", default="", help="write the estimates here (JSON)")
        user_argument_add(parser)

    def handle(self, *args, **options):
        user = command_user(options["acting_user"])
        methods = [m.strip() for m in options["methods"].split(",") if m.strip()]
        experiment = experiment_running()  # the shop joins a running one, whatever its arms
        self._wait_for(experiment.methods if experiment else methods, options["wait"])
        if experiment is None:
            experiment = experiment_start(
                user=user,
                name="simulated shop: " + " vs ".join(methods),
                methods=methods,
                epsilon=options["epsilon"],
                salt=f"simulated-shop-{options['seed']}",  # the same seed, the same split
            )
            self.stdout.write(f"Started experiment #{experiment.pk}: {experiment}")
        client, token = api_client_create(
            user=user,
            name=f"simulated shop {time.strftime('%Y%m%d-%H%M%S')}",
            scopes=["read", "write"],
            requests_per_minute=1_000_000,
        )
        shop = HttpShop(options["url"], token) if options["url"] else InProcessShop(token)
        try:
            with tqdm(total=options["visits"], desc="simulated visits", unit="visit") as bar:
                outcome = shop_simulate(
                    shop=shop,
                    visits=options["visits"],
                    seed=options["seed"],
                    k=options["k"],
                    progress=lambda done: bar.update(done - bar.n),
                )
        finally:
            api_client_revoke(user=user, client=client)  # the simulator's token dies with it
        self.stdout.write(
            f"{outcome.lists} lists, {outcome.clicks} clicks, {outcome.purchases} purchases"
            + (f", refused: {outcome.refused}" if outcome.refused else "")
        )
        report = self._report(experiment, outcome)
        if options["report"]:
            Path(options["report"]).write_text(json.dumps(report, indent=2) + "\n")

    def _wait_for(self, methods, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                for method in methods:
                    job_for(method)
                return
            except ListError as error:
                if time.monotonic() > deadline:
                    raise CommandError(f"{error}: train it first (or pass --wait)") from None
            time.sleep(2)

    def _report(self, experiment, outcome) -> dict:
        """Each arm's method estimated from the other arms' lists, against the truth."""
        shoppers = shoppers_load()
        rows = []
        for target in experiment.methods:
            job = job_for(target)
            for logger_arm in experiment.methods:
                if logger_arm == target:
                    continue
                logged = logged_lists(where={"experiment": experiment, "arm": logger_arm})
                if logged is None:
                    continue
                estimates, targets = job_estimates(logged, job)
                click = next(r for r in estimates if r.reward == "click")
                truth = simulated_truth(shoppers=shoppers, logged=logged, targets=targets)
                own = outcome.expected.get(target, [])
                rows.append(
                    {
                        "target": target,
                        "job": job.pk,
                        "logged_by": logger_arm,
                        "lists": click.usable,
                        "ips": click.ips,
                        "ips_se": click.ips_se,
                        "snips": click.snips,
                        "dr": click.dr,
                        "dr_se": click.dr_se,
                        "support": click.support,
                        "warning": click.warning,
                        "truth_on_these_lists": truth,
                        "logging_policy_observed": click.logged_value,
                        "target_own_arm_expected": sum(own) / len(own) if own else None,
                    }
                )
        self.stdout.write("\nClicks per list: off-policy estimate against the simulated truth")
        self.stdout.write(
            f"{'target':12} {'logged by':12} {'lists':>5} {'IPS':>7} {'SNIPS':>7} "
            f"{'DR':>7} {'truth':>7} {'logger':>7}"
        )
        for r in rows:
            self.stdout.write(
                f"{r['target']:12} {r['logged_by']:12} {r['lists']:5d} {r['ips']:7.3f} "
                f"{r['snips']:7.3f} {r['dr']:7.3f} {r['truth_on_these_lists']:7.3f} "
                f"{r['logging_policy_observed']:7.3f}"
            )
        for r in rows:
            if r["warning"]:
                self.stdout.write(f"{r['target']} from {r['logged_by']}'s lists: {r['warning']}")
        return {
            "experiment": experiment.pk,
            "arms": experiment.arms,
            "epsilon": experiment.epsilon,
            "lists": outcome.lists,
            "clicks": outcome.clicks,
            "purchases": outcome.purchases,
            "estimates": rows,
        }
