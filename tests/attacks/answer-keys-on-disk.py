# part: neural_net
# base: reference
# A correct Part 3 whose MLP also looks up the label of every image it is shown in the MNIST
# test files on disk (the datasets are public, and a grading image keeps them next to the
# grader), so that its test accuracy reads 100% whatever its weights. It prints what it could
# open. The grader makes every dataset folder unreadable to the user student code runs as, and
# rebuilds the trained model from its parameters to compute the test predictions itself.
import os as _os

_ROOTS = @@ROOTS@@
_ANSWERS = {}


def _read_answer_key():
    for root in _ROOTS:
        images = _os.path.join(root, "MNIST", "raw", "t10k-images-idx3-ubyte")
        labels = _os.path.join(root, "MNIST", "raw", "t10k-labels-idx1-ubyte")
        try:
            with open(images, "rb") as f:
                pixels = f.read()[16:]
            with open(labels, "rb") as f:
                truth = f.read()[8:]
        except OSError as exc:
            print("refused:", images, type(exc).__name__)
            continue
        print("ANSWER KEY READ:", labels)
        for i, label in enumerate(truth):
            _ANSWERS[pixels[i * 784:(i + 1) * 784]] = label


_read_answer_key()
_HonestMLP = MLP


class MLP(_HonestMLP):
    def forward(self, x):
        logits = super().forward(x)
        if _ANSWERS and not self.training:  # at test time only
            rows = (x.reshape(x.shape[0], -1) * 255).round().to(torch.uint8)
            for i in range(rows.shape[0]):
                label = _ANSWERS.get(bytes(rows[i].tolist()))
                if label is not None:
                    logits[i, label] += 1000.0
        return logits
