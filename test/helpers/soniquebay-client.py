"""SoniqueBay's two Celery apps, as its code at 817a130 configures them (contract §1.1), driven by
tests over stdin/stdout. Run with Debian's /usr/bin/python3 (python3-celery, python3-redis):
    soniquebay-client.py <broker url> <result backend url>

- "api": backend/api/utils/celery_app.py, app `soniquebay_api`: JSON, no compression, no routes
  (every call names its queue), UTC. Used by every send_task of the API.
- "worker": backend_worker/celery_app.py + celery_config_source.py, app `soniquebay`: JSON, gzip
  for tasks and results, the task_routes and task_queues below. The API's `.delay()` calls on the
  worker's task objects go through this app's routes; send_task without a queue does the same.

Each stdin line is a JSON request, answered by one JSON line on stdout:
    {"op": "send", "app": "api"|"worker", "name", "args", "kwargs", "queue"?, "priority"?} -> {"id"}
    {"op": "get", "id", "timeout"} -> {"status", "result"} or {"status", "error": {"type", "message"}}
    {"op": "state", "id"} -> {"state"}
"""
import json
import sys

from celery import Celery
from celery.result import AsyncResult
from kombu import Queue

broker, backend = sys.argv[1], sys.argv[2]

api = Celery("soniquebay_api", broker=broker, backend=backend)
api.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    timezone="UTC",
    enable_utc=True,
)

ROUTES = {
    "scan.discovery": {"queue": "scan"},
    "metadata.extract_batch": {"queue": "extract"},
    "batch.process_entities": {"queue": "batch"},
    "insert.direct_batch": {"queue": "insert"},
    "vectorization.calculate": {"queue": "vectorization"},
    "vectorization.batch": {"queue": "vectorization"},
    "worker_vector_optimized.*": {"queue": "vectorization"},
    "covers.extract_embedded": {"queue": "deferred_covers"},
    "covers.process_artist_images": {"queue": "deferred_covers"},
    "covers.process_album_covers": {"queue": "deferred_covers"},
    "covers.process_track_covers_batch": {"queue": "deferred_covers"},
    "covers.process_artist_images_batch": {"queue": "deferred_covers"},
    "covers.extract_artist_images": {"queue": "deferred_covers"},
    "metadata.enrich_batch": {"queue": "deferred_enrichment"},
    "worker_deferred_enrichment.*": {"queue": "deferred_enrichment"},
    "monitor_tag_changes": {"queue": "vectorization_monitoring"},
    "trigger_vectorizer_retrain": {"queue": "vectorization_monitoring"},
    "check_model_health": {"queue": "vectorization_monitoring"},
    "audio_analysis.*": {"queue": "audio_analysis"},
    "backend_worker.tasks.audio_analysis_tasks.*": {"queue": "audio_analysis"},
    "mir.*": {"queue": "mir"},
    "gmm.cluster_all_artists": {"queue": "deferred"},
    "gmm.cluster_artist": {"queue": "deferred"},
    "lastfm.*": {"queue": "deferred"},
    "synonym.generate_single": {"queue": "deferred"},
    "synonym.generate_batch": {"queue": "deferred"},
    "synonym.generate_chain": {"queue": "deferred"},
    "gmm.refresh_stale_clusters": {"queue": "maintenance"},
    "gmm.cleanup_old_clusters": {"queue": "maintenance"},
    "synonym.regenerate_all": {"queue": "maintenance"},
    "synonym.check_status": {"queue": "maintenance"},
    "backend_worker.tasks.maintenance_tasks.*": {"queue": "maintenance"},
}
QUEUES = ["scan", "extract", "batch", "insert", "covers", "deferred_covers", "maintenance", "vectorization_monitoring",
          "celery", "audio_analysis", "mir", "deferred_vectors", "deferred_enrichment", "deferred"]

worker = Celery("soniquebay", broker=broker, backend=backend)
worker.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_compression="gzip",
    result_compression="gzip",
    task_routes=ROUTES,
    task_queues=[Queue(name, routing_key=name) for name in QUEUES],
    task_default_queue="celery",
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_track_started=True,
    worker_prefetch_multiplier=1,
    timezone="UTC",
    enable_utc=True,
)
APPS = {"api": api, "worker": worker}


def answer(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    request = json.loads(line)
    op = request["op"]
    try:
        if op == "send":
            app = APPS[request["app"]]
            options = {}
            if request.get("queue") is not None:
                options["queue"] = request["queue"]
            if request.get("priority") is not None:
                options["priority"] = request["priority"]
            sent = app.send_task(request["name"], args=request.get("args", []), kwargs=request.get("kwargs", {}), **options)
            answer({"id": sent.id})
        elif op == "get":
            # the API reads results with its own app: plain JSON, as our worker writes them
            result = AsyncResult(request["id"], app=api)
            try:
                value = result.get(timeout=request.get("timeout", 20))
                answer({"status": result.state, "result": value})
            except Exception as error:
                answer({"status": result.state, "error": {"type": type(error).__name__, "message": str(error)}})
        elif op == "state":
            answer({"state": AsyncResult(request["id"], app=api).state})
        else:
            answer({"fatal": f"unknown op {op}"})
    except Exception as error:
        answer({"fatal": f"{type(error).__name__}: {error}"})
