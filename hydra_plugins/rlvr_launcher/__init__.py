"""rlvr's SLURM launcher as a Hydra plugin (Hydra instantiates launchers only from ``hydra_plugins``); the code
is ``rlvr.launcher``'s, selected by ``hydra/launcher=slurm`` or ``slurm_cpu``."""

from rlvr.launcher import SlurmLauncher as _SlurmLauncher


class SlurmLauncher(_SlurmLauncher):
    pass
