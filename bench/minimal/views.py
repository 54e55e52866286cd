"""The reference of bench/api.py: a minimal Django view that inserts one row per request."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bench.minimal.models import BenchRow


@csrf_exempt
@login_not_required
@require_POST
def minimal_insert(request: HttpRequest) -> JsonResponse:
    row = BenchRow.objects.create(payload=json.loads(request.body))
    return JsonResponse({"id": row.pk}, status=201)


@login_not_required
def ping(request: HttpRequest) -> HttpResponse:
    """What the load generator asks after its measured window: touches no table."""
    return HttpResponse("pong", content_type="text/plain")
