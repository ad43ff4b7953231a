"""Physics perturbations: road grip (friction) and payload (mass) changes.

The base env exposes ``set_physics(friction_scale, mass_scale)``, which takes
effect at its next reset. Several physics wrappers compose by multiplying
their factors: the newest (outermost) wrapper sets the product of its own
factors and of every physics wrapper inside it, once, when it is built.
Setting it again at each reset would let an inner wrapper overwrite the
outer product, because outer resets run first.
"""

from __future__ import annotations

import gymnasium as gym

from liquidcontrol.errors import LiquidControlError


class PhysicsScale(gym.Wrapper):
    """Scale tyre-ground friction and vehicle mass by the given factors.

    ``friction_scale`` multiplies the sliding friction of the tyres and the
    road (1 = the nominal dry grip, μ 1.0 for parking); ``mass_scale``
    multiplies the mass and the inertia of every body of the vehicle, so
    the centre of mass stays put and the total mass scales exactly (for
    parking: chassis, both steering knuckles and all four wheels, 3.4 kg
    nominal). What each factor does to the car is measured in
    :mod:`liquidcontrol.perturb.catalog`.
    """

    def __init__(self, env: gym.Env, friction_scale: float = 1.0, mass_scale: float = 1.0) -> None:
        super().__init__(env)
        if friction_scale <= 0 or mass_scale <= 0:
            raise LiquidControlError(
                f"friction and mass scales must be positive, got {friction_scale} and {mass_scale}."
            )
        setter = getattr(env.unwrapped, "set_physics", None)
        if setter is None:
            raise LiquidControlError(
                f"{type(env.unwrapped).__name__} has no set_physics(friction_scale, mass_scale); "
                "friction and mass perturbations need it."
            )
        self.friction_scale = float(friction_scale)
        self.mass_scale = float(mass_scale)
        total_friction, total_mass = self.total_scales()
        setter(friction_scale=total_friction, mass_scale=total_mass)

    def total_scales(self) -> tuple[float, float]:
        """Product of the friction and mass factors of this and every inner PhysicsScale."""
        friction, mass = 1.0, 1.0
        env: gym.Env = self
        while isinstance(env, gym.Wrapper):
            if isinstance(env, PhysicsScale):
                friction *= env.friction_scale
                mass *= env.mass_scale
            env = env.env
        return friction, mass
