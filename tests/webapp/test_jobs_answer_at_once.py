"""Jobs tell the truth at once: a broker check with a bound, a command that fails with one
line when the broker is away, and one job for a double click."""

import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from tests.acting import trainer
from webapp.jobs import services
from webapp.jobs.broker import CHECK_TIMEOUT_S, broker_problem
from webapp.jobs.models import TrainingJob

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def dead_broker(settings, monkeypatch):
    # Celery prefers the CELERY_BROKER_URL variable over its configuration (CI sets it).
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    settings.CELERY_BROKER_URL = DEAD_BROKER
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    services._celery_client.cache_clear()
    yield
    services._celery_client.cache_clear()


@pytest.fixture
def sent(monkeypatch):
    """The broker replaced by a list of the job ids sent to it."""
    ids = []
    monkeypatch.setattr(services, "training_job_enqueue", lambda *, job_id: ids.append(job_id))
    return ids


def test_the_broker_check_answers_with_the_reason_within_its_bound(dead_broker):
    started = time.monotonic()
    problem = broker_problem()
    elapsed = time.monotonic() - started
    assert problem.startswith(f"Could not reach the task broker ({DEAD_BROKER.split('@')[-1]})")
    assert "\n" not in problem
    # Refused at once; the bound is for a host that never answers. Celery's own retries
    # took 12.8 s here before the check existed.
    assert CHECK_TIMEOUT_S <= 2 and elapsed < 2 * CHECK_TIMEOUT_S


def test_the_broker_check_passes_for_the_configured_broker():
    assert broker_problem() == ""


@pytest.mark.django_db
def test_train_command_with_the_broker_down_exits_with_one_line_and_queues_nothing(
    dead_broker, small_gallery, caplog
):
    trainer()
    with pytest.raises(CommandError) as raised:
        call_command("train", "popularity", "--user", "trainer")
    message = str(raised.value)
    assert message.startswith("Could not reach the task broker (redis://127.0.0.1:1/0)")
    assert "nothing was queued" in message and "\n" not in message
    assert not TrainingJob.objects.exists()
    assert "Traceback" not in caplog.text


@pytest.mark.django_db
def test_a_job_the_broker_refuses_is_failed_at_once_without_a_traceback(dead_broker, caplog):
    job = TrainingJob.objects.create(method="popularity")
    started = time.monotonic()
    services.training_job_enqueue(job_id=job.pk)
    assert time.monotonic() - started < 2 * CHECK_TIMEOUT_S
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.FAILED and job.finished_at is not None
    assert job.error.startswith("Could not reach the task broker")
    assert "Traceback" not in caplog.text and "Traceback" not in job.error


@pytest.mark.django_db
def test_a_double_click_on_train_makes_one_job(
    client, small_gallery, sent, django_capture_on_commit_callbacks
):
    client.force_login(trainer())
    page = client.get(reverse("curation:job-list")).content.decode()
    key = page.split('name="request_key" value="')[1].split('"')[0]
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("curation:job-train"), {"method": "popularity", "request_key": key}
            )
        assert response.status_code == 302
    job = TrainingJob.objects.get()
    assert job.request_key == key and sent == [job.pk]
    # a new rendering of the form is a new request: a second job
    client.post(reverse("curation:job-train"), {"method": "popularity", "request_key": "b" * 32})
    assert TrainingJob.objects.count() == 2


@pytest.mark.django_db
def test_the_method_form_and_the_defaults_button_carry_a_key_too(client, small_gallery, sent):
    client.force_login(trainer())
    url = reverse("curation:job-new", args=["train", "popularity"])
    assert 'name="request_key"' in client.get(url).content.decode()
    for _ in range(2):
        client.post(url, {"request_key": "c" * 32})
    assert TrainingJob.objects.count() == 1
    for _ in range(2):
        client.post(reverse("curation:job-train"), {"defaults": "1", "request_key": "d" * 32})
    defaults = TrainingJob.objects.filter(request_key__startswith="d" * 32)
    assert defaults.count() >= 2
    assert defaults.count() == len({job.request_key for job in defaults})  # none twice


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_posts_with_one_key_make_one_job(client, small_gallery, sent):
    from django.test import Client

    user = trainer()
    barrier, answers = threading.Barrier(2), []

    def click():
        own = Client()
        own.force_login(user)
        barrier.wait()
        answers.append(
            own.post(reverse("curation:job-train"), {"method": "random", "request_key": "e" * 32})
        )
        connection.close()  # this thread's own connection

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [302, 302]
    job = TrainingJob.objects.get()
    assert {a["Location"] for a in answers} == {reverse("curation:job-detail", args=[job.pk])}


@pytest.mark.django_db
def test_a_key_sent_again_with_another_method_is_refused_not_answered_with_the_old_job(
    client, small_gallery, sent
):
    client.force_login(trainer())
    client.post(reverse("curation:job-train"), {"method": "popularity", "request_key": "f" * 32})
    # Back, another method, submit: the old page's key comes again
    response = client.post(
        reverse("curation:job-train"), {"method": "random", "request_key": "f" * 32}, follow=True
    )
    assert "this form was already used for job" in response.content.decode()
    assert list(TrainingJob.objects.values_list("method", flat=True)) == ["popularity"]
