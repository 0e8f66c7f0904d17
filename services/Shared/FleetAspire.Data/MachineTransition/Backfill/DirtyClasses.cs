namespace FleetAspire.Data.MachineTransition.Backfill;

/// <summary>Who deals with a class of dirty row.</summary>
public static class DirtyHandling
{
    /// <summary>Data an operator must judge: fix the legacy row, or record why it may go as it is.</summary>
    public const string Operator = "operator";

    /// <summary>
    /// A child (snapshot, health check) whose machine has no Machine row: the flip into MachineOnly links it to a
    /// tombstone and closes the report itself. Nothing for an operator to decide.
    /// </summary>
    public const string Tombstone = "tombstone";
}

/// <summary>One class of dirty legacy row, who handles it, and what happens to the row if nobody fixes it.</summary>
/// <param name="Migrated">Whether the backfill still copies the row (reported for a look) or leaves it out.</param>
public sealed record DirtyClass(string Name, string Entity, string Handling, bool Migrated, string Meaning, string IfLeft);

/// <summary>
/// Every class the backfill (and the dual-write, which runs its statements) reports. Each statement classifies every
/// row it reads by one expression: a row is copied exactly when that expression names no class, so a row the
/// backfill leaves out is always a reported row — nothing is skipped in silence (ADR 0016).
/// </summary>
public static class DirtyClasses
{
    public const string StrayMachineFields = "stray-machine-fields";
    public const string MissingType = "missing-type";
    public const string UnknownType = "unknown-type";
    public const string DuplicateProviderId = "duplicate-provider-id";
    public const string InvalidIpv4 = "invalid-ipv4";
    public const string MissingSharedKey = "missing-shared-key";
    public const string DanglingCustomMachine = "dangling-custom-machine";
    public const string CustomNotAssignedBack = "custom-not-assigned-back";
    public const string DuplicateIpv4 = "duplicate-ipv4";
    public const string PendingProvision = "pending-provision";
    public const string ParkedAndHeld = "parked-and-held";
    public const string InvalidPort = "invalid-port";
    public const string DanglingCurrentAgent = "dangling-current-agent";
    public const string AgentFieldsDiffer = "agent-fields-differ";
    public const string OrphanSnapshot = "orphan-snapshot";
    public const string OrphanHealthCheck = "orphan-health-check";
    public const string ChildOfDirtyMachine = "child-of-dirty-machine";

    private const string Agents = "agents";
    private const string Parked = "parked_machines";
    private const string Custom = "custom_machines";

    public static readonly IReadOnlyList<DirtyClass> All =
    [
        new(StrayMachineFields, Agents, DirtyHandling.Operator, false,
            "machine_type, machine_ipv4 or machine_shared_key set on an agent without machine_id",
            "the agent holds no machine; the stray fields are dropped by the contract"),
        new(MissingType, Agents, DirtyHandling.Operator, false, "machine_id set but machine_type is null",
            "the agent holds no machine from MachineRead on (reads come from Machine)"),
        new(UnknownType, Agents, DirtyHandling.Operator, false, "machine_type is neither 'hetzner' nor 'custom'",
            "the agent holds no machine from MachineRead on"),
        new(DuplicateProviderId, Agents, DirtyHandling.Operator, false, "two agents hold the same provider server id",
            "neither agent holds the server from MachineRead on; release one of them in legacy to keep the other"),
        new(InvalidIpv4, Agents, DirtyHandling.Operator, false, "machine_ipv4 is missing or not a dotted quad",
            "the agent holds no machine from MachineRead on"),
        new(MissingSharedKey, Agents, DirtyHandling.Operator, false, "a pool machine without machine_shared_key",
            "the agent holds no machine from MachineRead on (no key: nothing could connect to it)"),
        new(DanglingCustomMachine, Agents, DirtyHandling.Operator, false, "machine_type 'custom' names no custom machine",
            "the agent holds no machine from MachineRead on"),
        new(CustomNotAssignedBack, Agents, DirtyHandling.Operator, false,
            "the custom machine the agent names is not assigned back to it (current_agent_id differs)",
            "the agent holds no machine from MachineRead on; the machine keeps its own assignment"),
        new(DuplicateIpv4, Agents, DirtyHandling.Operator, true, "two pool servers held by agents share an ipv4",
            "migrated as it stands; one of the two copies is stale"),
        new(PendingProvision, Parked, DirtyHandling.Operator, false, "a pool row without a provider server id",
            "a provisioning in flight closes its own report when its id arrives; a stale one is a lost create call: delete it"),
        new(InvalidIpv4, Parked, DirtyHandling.Operator, false, "ipv4 is not a dotted quad (or missing on a ready server)",
            "the server is not in the Machine pool; it is never claimed again"),
        new(MissingSharedKey, Parked, DirtyHandling.Operator, false, "a pool server without shared_key",
            "the server is not in the Machine pool; it is never claimed again"),
        new(ParkedAndHeld, Parked, DirtyHandling.Operator, true, "a pool row for a server an agent already holds",
            "migrated as in use by the agent; delete the stale pool row so no legacy claim hands it out twice"),
        new(InvalidIpv4, Custom, DirtyHandling.Operator, false, "ipv4 is not a dotted quad", "the machine is not in Machine; its agent holds nothing"),
        new(InvalidPort, Custom, DirtyHandling.Operator, false, "port is not between 1 and 65535", "the machine is not in Machine; its agent holds nothing"),
        new(MissingSharedKey, Custom, DirtyHandling.Operator, false, "shared_key is empty", "the machine is not in Machine; its agent holds nothing"),
        new(DanglingCurrentAgent, Custom, DirtyHandling.Operator, true, "current_agent_id names no agent",
            "migrated without an assignment"),
        new(AgentFieldsDiffer, Custom, DirtyHandling.Operator, true, "the assigned agent's copied machine fields differ",
            "migrated without an assignment; its agent holds nothing from MachineRead on"),
        new(OrphanSnapshot, "machine_snapshots", DirtyHandling.Tombstone, true, "the machine it names exists in no model (destroyed)",
            "linked to a tombstone by the flip into MachineOnly"),
        new(OrphanHealthCheck, "machine_health_checks", DirtyHandling.Tombstone, true, "the machine it names exists in no model",
            "linked to a tombstone by the flip into MachineOnly"),
        new(ChildOfDirtyMachine, "machine_snapshots", DirtyHandling.Tombstone, true, "its machine is a dirty legacy row left out of Machine",
            "linked to a tombstone by the flip into MachineOnly"),
        new(ChildOfDirtyMachine, "machine_health_checks", DirtyHandling.Tombstone, true, "its machine is a dirty legacy row left out of Machine",
            "linked to a tombstone by the flip into MachineOnly"),
    ];

    /// <summary>Classes the contract itself handles (<see cref="DirtyHandling.Tombstone"/>).</summary>
    public static readonly string[] TombstoneClasses = All.Where(c => c.Handling == DirtyHandling.Tombstone).Select(c => c.Name).Distinct().ToArray();

    public static string HandlingOf(string className) =>
        TombstoneClasses.Contains(className) ? DirtyHandling.Tombstone : DirtyHandling.Operator;

    /// <summary>SQL: whether a report's class is handled by the contract (<c>{0}</c>: the class column).</summary>
    public static string IsTombstoneSql(string column) => $"{column} IN ({string.Join(", ", TombstoneClasses.Select(c => $"'{c}'"))})";
}
