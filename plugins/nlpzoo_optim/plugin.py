"""Registers the optimizers and learning-rate schedulers."""
import nlpzoo

PLUGIN_API = 2

OPTIMIZERS = {
    "adam": ("Adam", "Adam (Kingma and Ba); fused kernel where torch has one."),
    "adamw": ("AdamW", "Adam with decoupled weight decay (Loshchilov and Hutter); fused kernel where torch has one."),
    "sgd": ("SGD", "Stochastic gradient descent with (Nesterov) momentum."),
    "rmsprop": ("RMSprop", "RMSprop (Hinton); keeps a running mean of squared gradients."),
    "adagrad": ("Adagrad", "Adagrad (Duchi et al.); per-parameter rates from summed squared gradients."),
}

SCHEDULERS = {
    "constant": ("Constant", "The base learning rate throughout (with optional linear warmup)."),
    "step": ("Step", "Multiply the rate by gamma every step_size steps."),
    "exponential": ("Exponential", "Multiply the rate by gamma every step."),
    "cosine": ("Cosine", "Cosine decay from the base rate to min_lr over the run."),
    "linear-warmup": ("LinearWarmup", "Linear warmup, then linear decay to zero (BERT's schedule)."),
    "cosine-warmup": ("CosineWarmup", "Linear warmup, then cosine decay to min_ratio times the base rate."),
    "one-cycle": ("OneCycle", "One-cycle policy (Smith): up to max_lr, then annealed far below the start."),
    "inverse-sqrt": ("InverseSqrt", "Linear warmup, then decay with 1/sqrt(step) (the Transformer's schedule)."),
    "reduce-on-plateau": ("ReduceOnPlateau", "Cut the rate by factor when the validation metric stops improving."),
}


@nlpzoo.hookimpl
def register_components(register):
    for name, (cls, summary) in OPTIMIZERS.items():
        register("optimizer", name, target=f"nlpzoo_optim.optimizers:{cls}", summary=summary, tags=("torch",))
    for name, (cls, summary) in SCHEDULERS.items():
        register("scheduler", name, target=f"nlpzoo_optim.schedulers:{cls}", summary=summary, tags=("torch",))


@nlpzoo.hookimpl
def register_commands(cli):
    from .command import schedule

    cli.add_command(schedule)
