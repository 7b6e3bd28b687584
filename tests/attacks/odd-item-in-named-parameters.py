# part: neural_net
# named_parameters() yields an object that is no tensor beside the real parameters: what the grader
# reports of the model must come from the model itself, and whatever this does to the student's own
# training loop is the student's failure, never the grader's.
class _NotATensor:
    shape = ("x",)
    requires_grad = True
    grad = None


_Plain = LinearSoftmax


class LinearSoftmax(_Plain):
    def named_parameters(self, *args, **kwargs):
        yield from super().named_parameters(*args, **kwargs)
        yield "odd", _NotATensor()
