"""Prometheus page in TF Serving's format: names, labels, histogram buckets in microseconds."""

import pytest

from serving.metrics import LATENCY_BUCKETS, ServingMetrics, prometheus_name


def test_names_and_buckets_are_tf_servings():
    assert (
        prometheus_name("/tensorflow/serving/request_count") == ":tensorflow:serving:request_count"
    )
    assert len(LATENCY_BUCKETS) == 33 and LATENCY_BUCKETS[:3] == pytest.approx([10, 18, 32.4])


def test_page_counts_requests_by_status_and_version_and_latency_of_successes():
    metrics = ServingMetrics()
    metrics.record_request("voice", "Predict", "GRPC", "OK", 1500.0, "3")
    metrics.record_request("voice", "Predict", "GRPC", "OK", 2500.0, "3")
    metrics.record_request("voice", "predict", "REST", "INVALID_ARGUMENT", 0.0)
    page = metrics.render()
    assert "# TYPE :tensorflow:serving:request_count counter" in page
    assert ':tensorflow:serving:request_count{model_name="voice",status="OK"} 2' in page
    assert (
        ':tensorflow:serving:request_count{model_name="voice",status="INVALID_ARGUMENT"} 1' in page
    )
    assert "# TYPE :tensorflow:serving:request_latency histogram" in page
    labels = 'model_name="voice",API="Predict",entrypoint="GRPC"'
    prefix = ":tensorflow:serving:request_latency_bucket{" + labels + ","

    assert prefix + 'le="1983.59"} 1' in page
    assert prefix + 'le="+Inf"} 2' in page
    assert ":tensorflow:serving:request_latency_sum{" + labels + "} 4000" in page
    assert (
        ':tts_serving:request_count{model_name="voice",version="3",API="Predict",'
        'entrypoint="GRPC",status="OK"} 2'
    ) in page
    assert page.endswith("\n")
