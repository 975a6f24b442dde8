"""Freeze-then-convert to builtin-ops-only TFLite (float32, float16, dynamic-range int8), and
read back which operators a flatbuffer uses, in every subgraph."""

from __future__ import annotations

import collections
import re

import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from tensorflow.core.framework import attr_value_pb2, node_def_pb2
from tensorflow.python.eager import wrap_function
from tensorflow.python.framework import op_def_registry, tensor_util
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

# --quantize values and the variant each produces.
VARIANTS = {"none": "float32", "float16": "float16", "dynamic": "dynamic_int8"}

_BUILTIN_NAMES = {
    code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")
}
# Einsum "bt,btm->bm" (a vector-matrix product per batch row, as in tacotron2's attention
# context) lowers to a rank-2 tfl.batch_matmul that the TF 2.16 converter rejects.
_VECTOR_MATRIX = re.compile(r"^(\w)(\w),\1\2(\w)->\1\3$")


class ConversionError(RuntimeError):
    """A model did not convert to builtin TFLite ops."""


def _const_node(name: str, value) -> node_def_pb2.NodeDef:
    tensor = tensor_util.make_tensor_proto(value)
    node = node_def_pb2.NodeDef(name=name, op="Const")
    node.attr["dtype"].CopyFrom(attr_value_pb2.AttrValue(type=tensor.dtype))
    node.attr["value"].CopyFrom(attr_value_pb2.AttrValue(tensor=tensor))
    return node


def _add_default_attrs(node: node_def_pb2.NodeDef) -> None:
    """As the importer would: a function whose nodes lack defaults reads as a different one."""
    for attr in op_def_registry.get(node.op).attr:
        if attr.HasField("default_value") and attr.name not in node.attr:
            node.attr[attr.name].CopyFrom(attr.default_value)


def _rewrite_vector_matrix_einsums(nodes, in_function: bool) -> int:
    """Einsum "ab,abc->ac" nodes -> Sum(ExpandDims(a, -1) * b, axis 1), in place, keeping the
    node's name and output (the same products and sums; a matmul form gets fused back into
    the failing batch_matmul by the converter). Returns how many were rewritten."""

    def ref(node: node_def_pb2.NodeDef) -> str:  # inside functions: "<node>:<output arg>:0"
        output = op_def_registry.get(node.op).output_arg[0].name
        return f"{node.name}:{output}:0" if in_function else node.name

    int32 = attr_value_pb2.AttrValue(type=tf.int32.as_datatype_enum)
    added, rewritten = [], 0
    for node in nodes:
        if node.op != "Einsum" or not _VECTOR_MATRIX.match(node.attr["equation"].s.decode()):
            continue
        data = [i for i in node.input if not i.startswith("^")]
        controls = [i for i in node.input if i.startswith("^")]
        dtype, name, device = node.attr["T"], node.name, node.device
        last = _const_node(f"{name}/tflite_last_axis", np.array(-1, np.int32))
        middle = _const_node(f"{name}/tflite_sum_axis", np.array(1, np.int32))
        expand = node_def_pb2.NodeDef(
            name=f"{name}/tflite_expand", op="ExpandDims", input=[data[0], ref(last)]
        )
        expand.attr["T"].CopyFrom(dtype)
        expand.attr["Tdim"].CopyFrom(int32)
        product = node_def_pb2.NodeDef(
            name=f"{name}/tflite_mul", op="Mul", input=[ref(expand), data[1], *controls]
        )
        product.attr["T"].CopyFrom(dtype)
        node.Clear()
        node.name, node.op, node.device = name, "Sum", device
        node.input.extend([ref(product), ref(middle)])
        node.attr["T"].CopyFrom(dtype)
        node.attr["Tidx"].CopyFrom(int32)
        for new in (last, middle, expand, product, node):
            _add_default_attrs(new)
        added += [last, middle, expand, product]
        rewritten += 1
    nodes.extend(added)
    return rewritten


def _function_refs(attr: attr_value_pb2.AttrValue):
    """The NameAttrList messages (function references) inside one attribute value."""
    if attr.HasField("func"):
        yield attr.func
    if attr.HasField("list"):
        yield from attr.list.func


def _rename_functions(graph_def, changed: set[str]) -> None:
    """Gives every changed library function (and, transitively, every function calling one)
    a new name, so the eager context, which still holds the originals, takes the new ones."""

    def calls(nodes) -> bool:
        return any(
            ref.name in changed
            for node in nodes
            for attr in node.attr.values()
            for ref in _function_refs(attr)
        )

    functions = graph_def.library.function
    while True:
        callers = {f.signature.name for f in functions if calls(f.node_def)} - changed
        if not callers:
            break
        changed |= callers
    renamed = {name: f"{name}_tflite" for name in changed}
    for function in functions:
        function.signature.name = renamed.get(function.signature.name, function.signature.name)
    for nodes in [graph_def.node, *(f.node_def for f in functions)]:
        for node in nodes:
            for attr in node.attr.values():
                for ref in _function_refs(attr):
                    ref.name = renamed.get(ref.name, ref.name)


def freeze(concrete_fn) -> tf.types.experimental.ConcreteFunction:
    """Variables to constants (direct Keras 3 conversion aborts on TF 2.16), while loops kept
    functional, and the einsums the converter cannot lower rewritten as batch matmuls."""
    frozen = convert_variables_to_constants_v2(concrete_fn, lower_control_flow=False)
    graph_def = frozen.graph.as_graph_def()
    rewritten = _rewrite_vector_matrix_einsums(graph_def.node, in_function=False)
    changed = set()
    for function in graph_def.library.function:
        if _rewrite_vector_matrix_einsums(function.node_def, in_function=True):
            changed.add(function.signature.name)
    if not rewritten and not changed:
        return frozen
    _rename_functions(graph_def, changed)
    rebuilt = wrap_function.function_from_graph_def(
        graph_def, [t.name for t in frozen.inputs], [t.name for t in frozen.outputs]
    )
    for new, old in zip(rebuilt.inputs, frozen.inputs, strict=True):
        new.set_shape(old.shape)
    return rebuilt


def convert(concrete_fn, quantize: str = "none") -> bytes:
    """A builtin-ops-only flatbuffer of concrete_fn; quantize is a key of VARIANTS."""
    if quantize not in VARIANTS:
        raise ValueError(f"unknown quantize {quantize!r}; choose from {', '.join(VARIANTS)}")
    converter = tf.lite.TFLiteConverter.from_concrete_functions([freeze(concrete_fn)])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = False
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        model = converter.convert()
    except Exception as error:  # ConverterError and friends: say what failed, briefly
        raise ConversionError(f"{type(error).__name__}: {str(error)[:2000]}") from error
    foreign = non_builtin_ops(model)
    if foreign:
        raise ConversionError(f"non-builtin ops in the converted model: {', '.join(foreign)}")
    return model


def operator_counts(model: bytes) -> dict[str, int]:
    """Operator name -> uses, over every subgraph (while bodies and conds included).

    Custom operators (Flex delegates' ops among them) appear as "CUSTOM:<custom code>".
    """
    root = schema.Model.GetRootAs(model, 0)
    names = []
    for i in range(root.OperatorCodesLength()):
        code = root.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = _BUILTIN_NAMES.get(builtin, f"UNKNOWN_{builtin}")
        if builtin == schema.BuiltinOperator.CUSTOM:
            name = f"CUSTOM:{(code.CustomCode() or b'').decode()}"
        names.append(name)
    counts: collections.Counter[str] = collections.Counter()
    for s in range(root.SubgraphsLength()):
        subgraph = root.Subgraphs(s)
        for o in range(subgraph.OperatorsLength()):
            counts[names[subgraph.Operators(o).OpcodeIndex()]] += 1
    return dict(sorted(counts.items()))


def non_builtin_ops(model: bytes) -> list[str]:
    """The custom (e.g. Flex) operators a flatbuffer needs; empty for stock LiteRT."""
    return [name for name in operator_counts(model) if name.startswith(("CUSTOM", "UNKNOWN"))]
