"""A Python Celery client, as the music servers use one, driven by tests over stdin/stdout.

Run with Debian's /usr/bin/python3 (python3-celery, python3-redis):
    celery-client.py <broker url> <result backend url>
Each stdin line is a JSON request, answered by one JSON line on stdout:
    {"op": "send", "name": ..., "args": [...], "kwargs": {...}, "queue": ..., "priority": n, "compression": "gzip"|null}
        -> {"id": task id}
    {"op": "get", "id": ..., "timeout": seconds}
        -> {"status": "SUCCESS", "result": ...} or {"status": ..., "error": {"type", "module", "message"}}
    {"op": "state", "id": ...} -> {"state": ...}
    {"op": "bulk", "name": ..., "count": n, "queue": ...} -> {"ids": [...]}   (no-op calls, for the benchmark)
"""
import json
import sys

from celery import Celery
from celery.result import AsyncResult

broker, backend = sys.argv[1], sys.argv[2]
app = Celery("soniquebay-test-client", broker=broker, backend=backend)
# the original worker's serializer; gzip (its task_compression) is chosen per message, by default on
app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json")


def answer(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    request = json.loads(line)
    op = request["op"]
    try:
        if op == "send":
            options = {"queue": request.get("queue", "celery"), "compression": request.get("compression", "gzip")}
            if request.get("priority") is not None:
                options["priority"] = request["priority"]
            sent = app.send_task(request["name"], args=request.get("args", []), kwargs=request.get("kwargs", {}), **options)
            answer({"id": sent.id})
        elif op == "get":
            result = AsyncResult(request["id"], app=app)
            try:
                value = result.get(timeout=request.get("timeout", 20))
                answer({"status": result.state, "result": value})
            except Exception as error:  # the task's failure, rebuilt by Celery from the result backend
                answer({"status": result.state, "error": {"type": type(error).__name__, "module": type(error).__module__, "message": str(error)}, "traceback": result.traceback})
        elif op == "state":
            answer({"state": AsyncResult(request["id"], app=app).state})
        elif op == "bulk":
            with app.producer_or_acquire() as producer:
                ids = [app.send_task(request["name"], queue=request["queue"], producer=producer).id for _ in range(request["count"])]
            answer({"ids": ids})
        else:
            answer({"fatal": f"unknown op {op}"})
    except Exception as error:  # a client-side problem (Redis down, bad request): the test reports it
        answer({"fatal": f"{type(error).__name__}: {error}"})
