using FleetAspire.Data.MachineTransition.Phases;

namespace FleetAspire.Migration.Apis;

/// <summary>Whether a flip to <paramref name="Target"/> would be allowed now, gate by gate.</summary>
/// <param name="Warning">Set for a one-way flip: what it does that nothing can undo.</param>
public sealed record FlipReadiness(string Target, bool Open, IReadOnlyList<GateResult> Gates, bool OneWay = false, string? Warning = null);
