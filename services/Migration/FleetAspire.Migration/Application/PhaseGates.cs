using FleetAspire.Data;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Contract;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.MachineTransition.Verification;
using Npgsql;

namespace FleetAspire.Migration.Application;

/// <summary>
/// Decides whether a flip is safe. Each gate is evaluated against the stored state (instances, backfill checkpoint,
/// stored verifications, divergence records), never against this process's memory, so any replica of the control
/// service reaches the same answer.
/// </summary>
public sealed class PhaseGates(PhaseStore phases, MachineBackfill backfill, NpgsqlDataSource db, Microsoft.Extensions.Options.IOptions<PhaseGateOptions> options, TimeProvider time)
{
    public const string Acknowledged = "instances-acknowledged";
    public const string Builds = "instances-can-run-target";
    public const string BackfillAfterDualWrite = "backfill-after-dual-write";
    public const string CleanVerification = "clean-verification-after-backfill";
    public const string QuietPeriod = "quiet-period-clean";
    public const string SingleStep = "single-step";
    public const string CleanAfterReverseSync = "clean-verification-after-reverse-sync";
    public const string NoOldCode = "no-legacy-only-writes";
    public const string Soak = "soak-in-machine-only";
    public const string NoLegacyPaths = "no-legacy-code-paths";
    public const string NoWriteErrors = "no-write-errors";
    public const string DirtyResolved = "dirty-rows-resolved";
    public const string ChildrenLinked = "children-linked";

    public async Task<IReadOnlyList<GateResult>> EvaluateAsync(PhaseState current, TransitionPhase target, CancellationToken cancellationToken)
    {
        var instances = await phases.LiveInstancesAsync(cancellationToken);
        var gates = new List<GateResult>
        {
            PhaseRules.IsSingleStep(current.Phase, target)
                ? new(SingleStep, true, $"{current.Phase} → {target} is one step")
                : current.Phase == TransitionPhase.Contracted
                    ? new(SingleStep, false, "Contracted is final: the contract dropped what every earlier phase needs")
                    : new(SingleStep, false, $"{current.Phase} → {target} skips phases; flip one step at a time"),
            AcknowledgedGate(current, instances),
        };

        if (PhaseRules.RequiredCapability(target) is { } capability && target > current.Phase)
        {
            var lacking = instances.Where(i => !i.Capabilities.Contains(capability)).ToList();
            gates.Add(lacking.Count == 0
                ? new(Builds, true, $"every live instance can run {target} ({capability})")
                : new(Builds, false, $"{lacking.Count} live instance(s) cannot run {target}: " +
                                     string.Join(", ", lacking.Select(i => $"{i.Service}/{i.InstanceId} build {i.Build}"))));
        }

        if (current.Phase == TransitionPhase.DualWrite && target == TransitionPhase.MachineRead)
        {
            gates.AddRange(await MachineReadGatesAsync(current, instances, cancellationToken));
        }

        if (current.Phase == TransitionPhase.MachineRead && target == TransitionPhase.MachineOnly)
        {
            gates.Add(await QuietPeriodGateAsync(current, cancellationToken));
        }

        if (current.Phase == TransitionPhase.MachineOnly && target == TransitionPhase.Contracted)
        {
            gates.AddRange(await ContractGatesAsync(current, instances, cancellationToken));
        }

        if (current.Phase == TransitionPhase.MachineRead && target == TransitionPhase.DualWrite
            && await ReverseSyncGateAsync(cancellationToken) is { } reverse)
        {
            gates.Add(reverse);
        }

        return gates;
    }

    /// <summary>
    /// After the fleet has left MachineOnly, legacy becomes authoritative again only once a full verification that
    /// started after the reverse sync (inside that flip) is clean. Null when MachineOnly was never left.
    /// </summary>
    private async Task<GateResult?> ReverseSyncGateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT max(at) FROM migration_phase_history
            WHERE outcome = 'flipped' AND from_phase = 'MachineOnly' AND to_phase = 'MachineRead'
            """, connection);
        if (await command.ExecuteScalarAsync(cancellationToken) is not DateTime synced)
        {
            return null;
        }

        var syncedAt = new DateTimeOffset(synced, TimeSpan.Zero);
        var verification = await LastFullVerificationAsync(cancellationToken);
        return verification switch
        {
            null => new(CleanAfterReverseSync, false, "no full verification has run since the reverse sync"),
            _ when verification.Value.StartedAt < syncedAt => new(CleanAfterReverseSync, false,
                $"the last full verification started at {verification.Value.StartedAt:O}, before the reverse sync of {syncedAt:O}; run one now"),
            _ when verification.Value.Open > 0 => new(CleanAfterReverseSync, false,
                $"the full verification of {verification.Value.StartedAt:O} left {verification.Value.Open} open divergence(s)"),
            _ => new(CleanAfterReverseSync, true, $"full verification of {verification.Value.StartedAt:O}, after the reverse sync, is clean"),
        };
    }

    private static GateResult AcknowledgedGate(PhaseState current, IReadOnlyList<InstanceInfo> instances)
    {
        var behind = instances.Where(i => i.Epoch != current.Epoch).ToList();
        return behind.Count == 0
            ? new(Acknowledged, true, instances.Count == 0 ? "no live instances" : $"all {instances.Count} live instances run epoch {current.Epoch}")
            : new(Acknowledged, false, $"{behind.Count} live instance(s) have not acknowledged epoch {current.Epoch}: " +
                                       string.Join(", ", behind.Select(i => $"{i.Service}/{i.InstanceId} at {i.Epoch}")));
    }

    /// <summary>
    /// A backfill that started after every instance was dual-writing has finished (catch-up drained), and a full
    /// verification that started after it finished is clean: then no row can have escaped both.
    /// </summary>
    private async Task<IEnumerable<GateResult>> MachineReadGatesAsync(PhaseState current, IReadOnlyList<InstanceInfo> instances, CancellationToken cancellationToken)
    {
        // Instances that started after DualWrite began (a restart, a new replica) dual-wrote from their first request:
        // they do not move the point from which every write was dual-written.
        var dualWriteFrom = instances.Where(i => i.RanEarlierEpoch).Select(i => i.AcknowledgedAt).Append(current.Since).Max();

        var progress = await backfill.ProgressAsync(cancellationToken);
        var backfillGate = progress switch
        {
            { State: not BackfillStates.Done } => new GateResult(BackfillAfterDualWrite, false, $"the backfill is {progress.State}, not done"),
            { StartedAt: var started } when started < dualWriteFrom => new GateResult(BackfillAfterDualWrite, false,
                $"the last backfill started at {started:O}, before every instance was dual-writing ({dualWriteFrom:O}); start a new one"),
            _ => new GateResult(BackfillAfterDualWrite, true, $"backfill started {progress.StartedAt:O}, done {progress.FinishedAt:O}"),
        };

        var verification = await LastFullVerificationAsync(cancellationToken);
        var verificationGate = verification switch
        {
            null => new GateResult(CleanVerification, false, "no full verification has run"),
            _ when progress.FinishedAt is null || verification.Value.StartedAt < progress.FinishedAt => new GateResult(CleanVerification, false,
                $"the last full verification started at {verification.Value.StartedAt:O}, before the backfill finished; run one now"),
            _ when verification.Value.Open > 0 => new GateResult(CleanVerification, false,
                $"the full verification of {verification.Value.StartedAt:O} left {verification.Value.Open} open divergence(s)"),
            _ => new GateResult(CleanVerification, true,
                $"full verification of {verification.Value.StartedAt:O} is clean (quarantined dirty rows excepted: see /api/migration/dirty)"),
        };
        return [backfillGate, verificationGate, await OldCodeGateAsync(current, cancellationToken)];
    }

    /// <summary>
    /// Old code beside the new: a build that writes only legacy columns bypasses dual-write. Closed while any of its
    /// writes is unrepaired, or while it wrote within the window (it is still running).
    /// </summary>
    private async Task<GateResult> OldCodeGateAsync(PhaseState current, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            SELECT (SELECT count(*) FROM migration_divergences WHERE kind = '{DivergenceKinds.LegacyOnlyWrite}' AND resolved_at IS NULL) AS open,
                   (SELECT max(changed_at) FROM legacy_changes WHERE writer IS NULL AND changed_at > greatest(now() - @window, @since)) AS last_write
            """, connection);
        command.Parameters.AddWithValue("window", options.Value.OldCodeWindow);
        command.Parameters.AddWithValue("since", current.Since);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var (open, lastWrite) = (reader.Get<long>("open"), reader.GetOrNull<DateTimeOffset>("last_write"));
        return (open, lastWrite) switch
        {
            ( > 0, _) => new(NoOldCode, false, $"{open} legacy-only write(s) from outside this build are unrepaired (POST /api/migration/repair)"),
            (_, { } at) => new(NoOldCode, false, $"code outside this build wrote legacy rows at {at:O}, within {options.Value.OldCodeWindow.TotalMinutes:0} min"),
            _ => new(NoOldCode, true, "no writes from outside this build"),
        };
    }

    /// <summary>
    /// The contract drops what every earlier phase needs, so its gates read everything the soak left behind: how long
    /// the fleet ran MachineOnly, what every instance seen during the soak reported (a legacy code path, a failed write
    /// transaction), the dirty rows nobody resolved, and the children that name no Machine row.
    /// </summary>
    private async Task<IEnumerable<GateResult>> ContractGatesAsync(PhaseState current, IReadOnlyList<InstanceInfo> instances,
        CancellationToken cancellationToken)
    {
        // The soak starts once every instance runs MachineOnly: a write planned for legacy just before an instance
        // took the flip in (then refused by the fence and planned again) is the flip's, not the soak's.
        // An instance started after MachineOnly began (a restart) ran nothing else: it does not restart the soak.
        var soakFrom = instances.Where(i => i.RanEarlierEpoch).Select(i => i.AcknowledgedAt).Append(current.Since).Max();
        var soak = options.Value.ContractSoak;
        var inPhase = time.GetUtcNow() - soakFrom;
        var soakGate = inPhase >= soak
            ? new GateResult(Soak, true, $"{inPhase.TotalMinutes:0.0} minutes in MachineOnly (soak {soak.TotalMinutes:0.0})")
            : new GateResult(Soak, false, $"{Math.Max(0, inPhase.TotalMinutes):0.0} of {soak.TotalMinutes:0.0} minutes in MachineOnly since every instance runs it");

        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        var legacyPaths = new List<string>();
        var writeErrors = new List<string>();
        await using (var command = new NpgsqlCommand("""
            SELECT service, instance_id, legacy_path_at >= @since AS legacy_path, write_error_at >= @since AS write_error, legacy_path_at, write_error_at
            FROM migration_instances
            WHERE last_seen >= @since AND (legacy_path_at >= @since OR write_error_at >= @since) ORDER BY service, instance_id
            """, connection))
        {
            command.Parameters.AddWithValue("since", soakFrom);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var who = $"{reader.Get<string>("service")}/{reader.Get<string>("instance_id")}";
                if (reader.GetOrNull<bool>("legacy_path") == true)
                {
                    legacyPaths.Add($"{who} at {reader.Get<DateTimeOffset>("legacy_path_at"):O}");
                }

                if (reader.GetOrNull<bool>("write_error") == true)
                {
                    writeErrors.Add($"{who} at {reader.Get<DateTimeOffset>("write_error_at"):O}");
                }
            }
        }

        await using var counts = new NpgsqlCommand(
            $"SELECT (SELECT count(*) FROM migration_dirty_rows WHERE resolved_at IS NULL) AS dirty, u.* FROM ({ChildLinks.CountUnlinked}) u", connection);
        await using var totals = await counts.ExecuteReaderAsync(cancellationToken);
        await totals.ReadAsync(cancellationToken);
        var (dirty, snapshots, checks) = (totals.Get<long>("dirty"), totals.Get<long>("snapshots"), totals.Get<long>("health_checks"));
        return
        [
            soakGate,
            legacyPaths.Count == 0
                ? new(NoLegacyPaths, true, "no instance ran a legacy code path during the soak")
                : new(NoLegacyPaths, false, $"legacy code paths ran during the soak: {string.Join(", ", legacyPaths)}"),
            writeErrors.Count == 0
                ? new(NoWriteErrors, true, "no instance failed a write during the soak")
                : new(NoWriteErrors, false, $"writes failed during the soak: {string.Join(", ", writeErrors)}"),
            dirty == 0
                ? new(DirtyResolved, true, "no open dirty rows")
                : new(DirtyResolved, false, $"{dirty} dirty row(s) open: fix them in legacy, or record a resolution " +
                                            "(POST /api/migration/dirty/resolve, or /dirty/resolve-all for a whole class)"),
            snapshots == 0 && checks == 0
                ? new(ChildrenLinked, true, "every snapshot and health check names a Machine row")
                : new(ChildrenLinked, false, $"{snapshots} snapshot(s) and {checks} health check(s) name no Machine row"),
        ];
    }

    /// <summary>
    /// The quiet period judges what is open or unexplained, not everything ever seen: after at least
    /// <see cref="PhaseGateOptions.QuietPeriod"/> in the phase, nothing may be open now, and a full verification that
    /// started after the last divergence of the phase was seen (or closed) must be clean — so every divergence of the
    /// window was either repaired or shown to be a race read mid-way, by a scan that came after it.
    /// </summary>
    private async Task<GateResult> QuietPeriodGateAsync(PhaseState current, CancellationToken cancellationToken)
    {
        var quiet = options.Value.QuietPeriod;
        var inPhase = time.GetUtcNow() - current.Since;
        if (inPhase < quiet)
        {
            return new(QuietPeriod, false, $"{inPhase.TotalMinutes:0.0} of {quiet.TotalMinutes:0.0} minutes in {current.Phase}");
        }

        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT (SELECT count(*) FROM migration_divergences WHERE resolved_at IS NULL) AS open,
                   (SELECT max(greatest(last_seen, coalesce(resolved_at, last_seen))) FROM migration_divergences
                    WHERE last_seen >= @since OR resolved_at >= @since) AS last_divergence,
                   (SELECT max(started_at) FROM migration_verifications WHERE mode = 'full' AND started_at >= @since AND open_total = 0) AS clean_scan
            """, connection);
        command.Parameters.AddWithValue("since", current.Since);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var open = reader.Get<long>("open");
        var lastDivergence = reader.GetOrNull<DateTimeOffset>("last_divergence");
        var cleanScan = reader.GetOrNull<DateTimeOffset>("clean_scan");
        return (open, cleanScan) switch
        {
            ( > 0, _) => new(QuietPeriod, false, $"{open} divergence(s) open: repair them (POST /api/migration/repair), then verify"),
            (_, null) => new(QuietPeriod, false, $"no clean full verification started since {current.Since:O}"),
            (_, { } scan) when lastDivergence is { } last && scan < last => new(QuietPeriod, false,
                $"the last clean full verification ({scan:O}) started before the last divergence of the phase ({last:O}); run one now"),
            _ => new(QuietPeriod, true, $"{inPhase.TotalMinutes:0.0} minutes in {current.Phase}; nothing open; clean full verification of {cleanScan:O}" +
                                        (lastDivergence is { } l ? $" after the last divergence ({l:O})" : ", no divergence in the phase")),
        };
    }

    private async Task<(DateTimeOffset StartedAt, long Open)?> LastFullVerificationAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            $"SELECT started_at, open_total FROM migration_verifications WHERE mode = '{VerificationModes.Full}' ORDER BY id DESC LIMIT 1", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.Get<DateTimeOffset>("started_at"), reader.Get<long>("open_total")) : null;
    }
}
