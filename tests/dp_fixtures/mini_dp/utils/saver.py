# Synthetic saver (test fixture; never run).
def need_to_checkpoint(config):
    return 'checkpoint_every_n_minutes' in config


class Saver:
    def __init__(self, config, model):
        self.config = config
        self.model = model

    def process_epoch(self, epoch):
        if need_to_checkpoint(self.config):
            pass
        if epoch % self.config['save_every_n_epochs'] == 0:
            return True
        return False
