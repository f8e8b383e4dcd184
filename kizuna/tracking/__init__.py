"""Tracking: state estimation, association, initiation and track management, all batched.

Owns the motion models (`kizuna.tracking.models`), the measurement models for the four detection
kinds (`kizuna.tracking.measurements`) and the filters — KF, EKF, UKF with Joseph-form updates, and
the IMM (`kizuna.tracking.filters`); association, initiation and track management join them here.

Conventions: a set of N tracks is ``x (N, n)`` and ``P (N, n, n)`` in ECEF, SI units, with times
``(N,)`` in seconds; every state starts ``[x, y, z, vx, vy, vz]`` (position then velocity, not
interleaved), so measurement models need only the first six components whatever the motion model.

May import `kizuna.constants`, `kizuna.frames`, `kizuna.sensors.detections` (the batch type only),
`kizuna.sensors.oth.oth_measurement` (the OTH measurement function, used as the tracker's ``h``)
and `kizuna.truth.flight.gravity_m_per_s2`; never the network, nodes, simulation, nor
`DetectionLabels` (a tracker never sees the truth).
"""
