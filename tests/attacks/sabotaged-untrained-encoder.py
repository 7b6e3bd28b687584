# part: metric_learning
# base: reference
# An encoder that learns nothing (a fixed random projection of the pixels, with one trainable
# scale for the optimiser) and outputs zeros until its first backward pass, so that "before
# training" it is at chance level and the projection alone looks like a large improvement.
# The grader measures the improvement over k-NN on the raw pixels, which it computes itself.
_HonestEncoder = Encoder


class Encoder(nn.Module):
    def __init__(self, z_dim=64):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("proj", torch.randn(3 * 32 * 32, z_dim, generator=torch.Generator().manual_seed(0)))
        self.trained = False
        self.scale.register_hook(self._first_backward)

    def _first_backward(self, grad):
        self.trained = True
        return grad

    def forward(self, x):
        z = x.flatten(1) @ self.proj * self.scale
        return z if self.trained else z * 0.0  # still connected to the scale, so training can start
