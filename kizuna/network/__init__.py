"""Network: wire messages, signing, release rules and the buses that carry them.

Owns the signed track messages (`kizuna.network.messages`, `kizuna.network.signing`), the release
rules that decide which partner may receive which track (`kizuna.network.release`) and the buses
(`kizuna.network.bus`): the simulated one with a link model per pair of nations, and Zenoh for
live nodes.

May import NumPy, msgspec, PyNaCl, Zenoh and `kizuna.scenario.schema` (the network and release
tables); never tracking, fusion, sensors nor the simulation — those layers tie in through
`kizuna.node`.
"""
