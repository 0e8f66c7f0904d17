using FleetAspire.Data.MachineTransition.Phases;

namespace FleetAspire.Data.MachineTransition.Modes;

public sealed class TransitionOptions
{
    public const string Section = "MachineTransition";

    /// <summary>How often an instance re-reads the stored phase: well inside the 2 s every instance must follow a flip.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long a write transaction waits for the phase fence (and, after it, for any lock) before it gives up and is
    /// answered 503 + Retry-After: a flip queued behind a slow writer, or a stuck one, never stalls the fleet for longer.
    /// </summary>
    public TimeSpan FenceLockTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often an instance reports itself (service, build, epoch) to the registry.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>An instance not heard from for this long drops out of every acknowledgement.</summary>
    public TimeSpan InstanceTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Local development only: seeds the stored phase of a database that has never been flipped (audited as
    /// <c>seeded</c>). An instance whose pin differs from a stored phase it cannot seed refuses to start.
    /// </summary>
    public TransitionPhase? PinnedPhase { get; set; }

    /// <summary>
    /// What this build can run, advertised to the gates: dual-write, reads from Machine, and Machine-only writes
    /// (with the reverse sync that leaving MachineOnly runs).
    /// </summary>
    public string[] Capabilities { get; set; } =
        [PhaseRules.Capabilities.DualWrite, PhaseRules.Capabilities.MachineRead, PhaseRules.Capabilities.MachineOnly,
         PhaseRules.Capabilities.Contracted];
}
