using FleetAspire.Data.MachineTransition.Phases;

namespace FleetAspire.Migration.Apis;

public sealed record PhaseView(string Phase, long Epoch, DateTimeOffset Since, string ChangedBy, FlipReadiness? Next, FlipReadiness? Previous,
    IReadOnlyList<InstanceInfo> Instances);
