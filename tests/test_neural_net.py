"""Part 3 end to end: the reference earns every point, the untouched stubs earn none, and each
realistic wrong submission loses exactly the points of the checks that should catch it."""
from __future__ import annotations


import pytest

from conftest import (ASSIGNMENT, SOLUTIONS, assert_full_marks, assert_loses_exactly, assert_untouched_stubs, mutate,
                      reference_source)

PART = "neural_net"


def test_reference_gets_full_marks(grade):
    assert_full_marks(grade({"neural_net.py": SOLUTIONS / "neural_net.py"}, parts=[PART]))


def test_untouched_stubs_get_zero(grade):
    assert_untouched_stubs(grade({"neural_net.py": ASSIGNMENT / "neural_net.py"}, parts=[PART]))


# ----------------------------------------------------------------------------- wrong submissions
#
# Each mutant is the reference with ONE bug a real student makes (a text mutation of
# solutions/neural_net.py). We grade a narrow selection of checks and assert the exact set that
# does not pass, that the first one's message names the bug, and that the score drops by exactly
# their weights.

ACTS = ["nn_sigmoid_vs_torch", "nn_tanh_vs_torch", "nn_relu_vs_torch", "nn_activations_extreme_inputs",
        "nn_activations_static"]
MODELS = ["public_model_shapes", "nn_linear_softmax_model", "nn_mlp_model", "nn_count_parameters"]
TRAIN = ["nn_train_sgd_steps", "nn_train_minibatches", "nn_predict_accuracy"]

SIGMOID_BODY = ("    e_pos = torch.exp(-torch.clamp(x, min=0))\n    e_neg = torch.exp(torch.clamp(x, max=0))\n"
                "    out = torch.where(x >= 0, 1.0 / (1.0 + e_pos), e_neg / (1.0 + e_neg))\n")
TANH_BODY = ("    m_pos = torch.expm1(-2.0 * torch.clamp(x, min=0))\n    m_neg = torch.expm1(2.0 * torch.clamp(x, max=0))\n"
             "    out = torch.where(x >= 0, -m_pos / (2.0 + m_pos), m_neg / (2.0 + m_neg))\n")
RELU_BODY = "    out = torch.clamp(x, min=0)\n"
SHUFFLE = ("    for epoch in range(num_epochs):\n        order = torch.randperm(num_train, device=X_train.device)\n")

MUTANTS = {
    # name: (list of (old, new) mutations, checks graded, expected not passed, phrase in the first failure)
    "sigmoid-textbook-formula-overflows": (
        [(SIGMOID_BODY, "    out = 1.0 / (1.0 + torch.exp(-x))\n")],
        ACTS, {"nn_activations_extreme_inputs"}, "gradient is nan"),
    "sigmoid-where-with-unclamped-branches": (
        [(SIGMOID_BODY, "    out = torch.where(x >= 0, 1.0 / (1.0 + torch.exp(-x)), torch.exp(x) / (1.0 + torch.exp(x)))\n")],
        ACTS, {"nn_activations_extreme_inputs"}, "BOTH branches of torch.where"),
    "sigmoid-calls-torch-sigmoid": (
        [(SIGMOID_BODY, "    out = torch.sigmoid(x)\n")],
        ACTS, {"nn_activations_static"}, "uses torch.sigmoid"),
    "sigmoid-reaches-torch-through-a-computed-name": (
        # a computed name can reach anything, the grader's own probes included: no check of the part pays
        [(SIGMOID_BODY, "    out = getattr(torch, 'sig' + 'moid')(x)\n")],
        ACTS, set(ACTS), "getattr with a name computed at run time"),
    "tanh-exponentials-overflow": (
        [(TANH_BODY, "    out = (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))\n")],
        ACTS, {"nn_activations_extreme_inputs"}, "overflows"),
    "tanh-half-exponent": (
        [("-2.0 * torch.clamp(x, min=0)", "-1.0 * torch.clamp(x, min=0)"),
         ("(2.0 * torch.clamp(x, max=0)", "(1.0 * torch.clamp(x, max=0)")],
        ACTS, {"nn_tanh_vs_torch", "nn_activations_extreme_inputs", "nn_activations_static"}, "tanh(x / 2)"),
    "relu-in-place": (
        [(RELU_BODY, "    x[x < 0] = 0\n    out = x\n")],
        ACTS, {"nn_relu_vs_torch", "nn_activations_extreme_inputs", "nn_activations_static"},
        "modified its input x in place ("),
    "relu-min-instead-of-max": (
        [(RELU_BODY, "    out = torch.clamp(x, max=0)\n")],
        ["nn_relu_vs_torch", "nn_mlp_model", "nn_linear_softmax_model"], {"nn_relu_vs_torch", "nn_mlp_model"},
        "min(0, x)"),
    "mlp-relu-after-first-layer-only": (
        [("        x = relu(self.fc2(x))\n", "        x = self.fc2(x)\n")],
        MODELS + ["nn_mlp_accuracy"], {"nn_mlp_model", "nn_mlp_accuracy"}, "only once"),
    "mlp-uses-functional-relu": (
        [("        x = relu(self.fc1(x))\n        x = relu(self.fc2(x))\n",
          "        x = nn.functional.relu(self.fc1(x))\n        x = nn.functional.relu(self.fc2(x))\n")],
        MODELS, {"nn_mlp_model"}, "never calls your relu"),
    "mlp-returns-probabilities": (
        [("        return self.fc3(x)\n", "        return self.fc3(x).softmax(dim=1)\n")],
        MODELS, {"nn_mlp_model"}, "softmax(logits)"),
    "mlp-hidden-width-64": (
        [("def __init__(self, in_features=784, hidden=32, num_classes=10)",
          "def __init__(self, in_features=784, hidden=64, num_classes=10)")],
        MODELS, {"nn_mlp_model", "public_model_shapes"}, "26,506"),
    "linear-model-returns-log-probabilities": (
        [("        return self.linear(x)\n", "        return torch.log_softmax(self.linear(x), dim=1)\n")],
        MODELS + ["nn_linear_softmax_accuracy"], {"nn_linear_softmax_model", "nn_linear_softmax_accuracy"},
        "log_softmax"),
    "count-includes-frozen-parameters": (
        [("sum(p.numel() for p in model.parameters() if p.requires_grad)", "sum(p.numel() for p in model.parameters())")],
        MODELS, {"nn_count_parameters"}, "Frozen parameters"),
    "train-summed-loss": (
        [("nn.functional.cross_entropy(logits, y_train[idx])",
          "nn.functional.cross_entropy(logits, y_train[idx], reduction=\"sum\")")],
        TRAIN, {"nn_train_sgd_steps", "nn_train_minibatches"}, "N times too large"),
    "train-no-zero-grad": (
        [("            optimizer.zero_grad()\n", "")],
        TRAIN, {"nn_train_sgd_steps"}, "zero_grad"),
    "train-momentum": (
        [("optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)",
          "optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.9)")],
        TRAIN, {"nn_train_sgd_steps"}, "momentum"),
    "train-no-shuffle": (
        [("        order = torch.randperm(num_train, device=X_train.device)\n",
          "        order = torch.arange(num_train, device=X_train.device)\n")],
        TRAIN, {"nn_train_minibatches"}, "original order"),
    "train-shuffles-once": (
        [(SHUFFLE, "    order = torch.randperm(num_train, device=X_train.device)\n    for epoch in range(num_epochs):\n")],
        TRAIN, {"nn_train_minibatches"}, "EACH epoch"),
    "train-drops-last-batch": (
        [("for start in range(0, num_train, batch_size):", "for start in range(0, num_train - batch_size + 1, batch_size):")],
        TRAIN, {"nn_train_minibatches"}, "dropped"),
    "accuracy-as-percentage": (
        [("(y_pred == y).double().mean().item()", "(y_pred == y).double().mean().item() * 100")],
        TRAIN, {"nn_predict_accuracy"}, "percentage"),
    "train-ascends-the-gradient": (
        [("optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)",
          "optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, maximize=True)")],
        TRAIN + ["nn_linear_softmax_accuracy"], {"nn_train_sgd_steps", "nn_linear_softmax_accuracy"},
        "up the gradient"),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_loses_exactly_its_checks(grade, name):
    edits, checks, expected, phrase = MUTANTS[name]
    source = reference_source(PART)
    for old, new in edits:
        source = mutate(source, old, new)
    g = grade({"neural_net.py": source}, parts=[PART], checks=checks)
    assert_loses_exactly(g, checks, expected, phrase, anywhere=True)
