# Synthetic in-tree optimizer (test fixture; never run).
class FancyOptim:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.99), warp=False, mpu=None):
        self.params = params
