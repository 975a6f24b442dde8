"""TF Serving's BatchingParameters and MonitoringConfig messages, built from their .proto fields.

tensorflow-serving-api ships ModelServerConfig but not these two, so they are declared here
with the same package, names and field numbers, and parsed with protobuf's own text format.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "tensorflow.serving"


def field_descriptor(
    name: str, number: int, kind: int, type_name: str = "", repeated: bool = False
):
    label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    field = _F(name=name, number=number, type=kind, label=label)
    if type_name:
        field.type_name = type_name
    return field


def _file() -> descriptor_pb2.FileDescriptorProto:
    msg = _F.TYPE_MESSAGE
    proto = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/local/config_subset.proto",
        package=_PACKAGE,
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    # tensorflow_serving/servables/tensorflow/session_bundle_config.proto
    proto.message_type.add(
        name="BatchingParameters",
        field=[
            field_descriptor("max_batch_size", 1, msg, ".google.protobuf.Int64Value"),
            field_descriptor("batch_timeout_micros", 2, msg, ".google.protobuf.Int64Value"),
            field_descriptor("max_enqueued_batches", 3, msg, ".google.protobuf.Int64Value"),
            field_descriptor("num_batch_threads", 4, msg, ".google.protobuf.Int64Value"),
            field_descriptor("thread_pool_name", 5, msg, ".google.protobuf.StringValue"),
            field_descriptor("allowed_batch_sizes", 6, _F.TYPE_INT64, repeated=True),
            field_descriptor("pad_variable_length_inputs", 7, _F.TYPE_BOOL),
            field_descriptor("enable_large_batch_splitting", 8, msg, ".google.protobuf.BoolValue"),
            field_descriptor("max_execution_batch_size", 9, msg, ".google.protobuf.Int64Value"),
        ],
    )
    # tensorflow_serving/config/monitoring_config.proto
    proto.message_type.add(
        name="PrometheusConfig",
        field=[
            field_descriptor("enable", 1, _F.TYPE_BOOL),
            field_descriptor("path", 2, _F.TYPE_STRING),
        ],
    )
    proto.message_type.add(
        name="MonitoringConfig",
        field=[field_descriptor("prometheus_config", 1, msg, f".{_PACKAGE}.PrometheusConfig")],
    )
    return proto


def _classes() -> tuple[type, type]:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.AddSerializedFile(_file().SerializeToString())

    def message_class(name: str) -> type:
        descriptor = pool.FindMessageTypeByName(f"{_PACKAGE}.{name}")
        if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.21
            return message_factory.GetMessageClass(descriptor)
        return message_factory.MessageFactory(pool).GetPrototype(descriptor)

    return message_class("BatchingParameters"), message_class("MonitoringConfig")


BatchingParameters, MonitoringConfig = _classes()
