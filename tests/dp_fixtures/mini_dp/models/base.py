# Synthetic base pipeline (test fixture; never run).
class BasePipeline:
    def configure_adapter(self, adapter_config):
        rank = adapter_config['rank']
        dropout = adapter_config['dropout']
        return rank, dropout

    def get_loss(self, output, target):
        if 'huber_delta' in self.config:
            return self.config['huber_delta']
        return self.model_config.get('loss_scale', 1.0)


class LayerThing:
    def __init__(self, config):
        # not a diffusion-pipe config: a layer's own config object
        self.config = config

    def forward(self, x):
        return self.config['hidden_size']
