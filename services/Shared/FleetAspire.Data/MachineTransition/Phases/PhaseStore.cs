using System.Text.Json;
using FleetAspire.Data.MachineTransition.Modes;
using Npgsql;
using NpgsqlTypes;

namespace FleetAspire.Data.MachineTransition.Phases;

public sealed record PhaseState(TransitionPhase Phase, long Epoch, DateTimeOffset Since, string ChangedBy)
{
    /// <summary>
    /// Set in MachineOnly while a rollback is prepared: new contexts map the legacy model again, so writes that
    /// straddle the flip back can be planned for legacy (<see cref="PhaseStore.PrepareRollbackAsync"/>).
    /// </summary>
    public bool LegacyModel { get; init; }

    /// <summary>Set by the contract's rename barrier: contexts map the relation to <c>agents.machine_id</c> from then on.</summary>
    public bool RelationRenamed { get; init; }
}

public sealed record InstanceRegistration(string InstanceId, string Service, string Build, IReadOnlyList<string> Capabilities);

public sealed record InstanceInfo(string InstanceId, string Service, string Build, IReadOnlyList<string> Capabilities, long Epoch,
    DateTimeOffset AcknowledgedAt, DateTimeOffset LastSeen, DateTimeOffset ExpiresAt)
{
    /// <summary>When the instance last ran a legacy code path (reported with its heartbeat; the contract's gate).</summary>
    public DateTimeOffset? LegacyPathAt { get; init; }

    /// <summary>When a write transaction of the instance last failed.</summary>
    public DateTimeOffset? WriteErrorAt { get; init; }

    /// <summary>When the instance first registered (a restarted process is a new instance).</summary>
    public DateTimeOffset StartedAt { get; init; }

    /// <summary>
    /// Whether the instance ran another epoch before the one it runs now: false for one whose first registration was
    /// already this epoch (a restart, a new replica — it ran this phase from its first request), whose acknowledgement
    /// is its start.
    /// </summary>
    public bool RanEarlierEpoch => AcknowledgedAt > StartedAt;
}

public sealed record GateResult(string Gate, bool Passed, string Detail);

public sealed record PhaseHistoryEntry(long Id, DateTimeOffset At, string Actor, string From, string To, long FromEpoch, long? ToEpoch,
    string Outcome, bool Forced, string Reason, IReadOnlyList<GateResult> Gates);

/// <summary>
/// The stored phase — the single truth every replica reads — with its audit log and the instance registry.
/// Also the epoch fence: writers take <see cref="FenceLockKey"/> shared in their transaction, a flip takes it
/// exclusively, so a flip commits only after every write of the old epoch has finished.
/// </summary>
public sealed class PhaseStore(NpgsqlDataSource dataSource)
{
    public const long FenceLockKey = Migrations.MachineTransitionSql.FenceLockKey;

    /// <summary>
    /// How long one attempt of a flip waits for the exclusive fence (every write of the old epoch to finish). Writers
    /// that arrive meanwhile queue behind the flip's request, so this bounds how long one slow writer can make the
    /// whole fleet wait; a flip retries (<see cref="FlipAttempts"/>) and then gives up with 55P03 (503 + Retry-After).
    /// </summary>
    public TimeSpan FlipLockTimeout { get; init; } = TimeSpan.FromSeconds(1);

    public int FlipAttempts { get; init; } = 10;

    /// <summary>Notified in every flip's transaction (delivered at commit): instances re-read at once instead of at the next poll.</summary>
    public const string Channel = "fleet_phase";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<PhaseState> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await ReadAsync(connection, null, cancellationToken);
    }

    private static async Task<PhaseState> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, CancellationToken cancellationToken, bool forUpdate = false)
    {
        await using var command = new NpgsqlCommand(
            "SELECT phase, epoch, since, changed_by, legacy_model, relation_renamed FROM migration_phase WHERE id = 1" + (forUpdate ? " FOR UPDATE" : ""), connection, tx);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException("migration_phase has no row: the expand migrations have not been applied.");
        }

        return new PhaseState(Enum.Parse<TransitionPhase>(reader.Get<string>("phase")), reader.Get<long>("epoch"),
            reader.Get<DateTimeOffset>("since"), reader.Get<string>("changed_by"))
        {
            LegacyModel = reader.Get<bool>("legacy_model"),
            RelationRenamed = reader.Get<bool>("relation_renamed"),
        };
    }

    /// <summary>
    /// Moves to <paramref name="target"/> if the stored epoch is still <paramref name="expectedEpoch"/>; waits for every
    /// in-flight write of the current epoch first (exclusive fence lock). Audited with the gate results it passed.
    /// Returns null when the phase moved meanwhile.
    /// </summary>
    public async Task<PhaseState?> FlipAsync(TransitionPhase target, long expectedEpoch, string actor, string reason, bool forced,
        IReadOnlyList<GateResult> gates, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await FlipOnceAsync(target, expectedEpoch, actor, reason, forced, gates, cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable && attempt < FlipAttempts)
            {
                // A writer still holds the fence: let the queue behind us drain, then ask again.
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken);
            }
        }
    }

    private async Task<PhaseState?> FlipOnceAsync(TransitionPhase target, long expectedEpoch, string actor, string reason, bool forced,
        IReadOnlyList<GateResult> gates, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var current = await LockExclusiveAsync(connection, tx, FlipLockTimeout, cancellationToken);
        if (current.Epoch != expectedEpoch)
        {
            return null;
        }

        if (current.Phase == TransitionPhase.MachineOnly && target == TransitionPhase.MachineRead)
        {
            // Dual-write resumes with this commit: legacy must be current before it does (ADR 0012). Tombstones have no
            // legacy form; they go first, so the reverse sync removes what they stood for.
            var tombstones = await Contract.ChildLinks.RemoveTombstonesAsync(connection, tx, cancellationToken);
            var changes = await ReverseSync.MachineReverseSync.RunAsync(connection, tx, cancellationToken);
            gates = [.. gates, new GateResult("reverse-sync", true,
                $"{changes} Machine changes made in MachineOnly written back to legacy; {tombstones} tombstone(s) removed")];
        }

        if (current.Phase == TransitionPhase.MachineRead && target == TransitionPhase.MachineOnly)
        {
            // From here on a machine with children is tombstoned, never deleted: start with every child linked.
            var (tombstones, linked) = await Contract.ChildLinks.LinkAsync(connection, tx, cancellationToken);
            gates = [.. gates, new GateResult("children-linked", true,
                $"{linked} snapshot(s)/health check(s) linked, {tombstones} tombstone(s) for machines gone from both models")];
        }

        if (target == TransitionPhase.Contracted)
        {
            // The contract set is owed from this commit on: the control service applies it, resuming after a restart.
            await Contract.ContractRunner.ScheduleAsync(connection, tx, cancellationToken);
        }

        await MoveAsync(connection, tx, current, target, actor, "flipped", forced, reason, gates, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return await ReadAsync(cancellationToken);
    }

    /// <summary>
    /// The first half of leaving MachineOnly: a new epoch in the same phase whose instances build legacy-mapped contexts
    /// again. Writes keep going to Machine only (nothing is refused); once every instance runs this epoch, the flip to
    /// MachineRead finds the requests in flight on contexts that can write legacy rows. Null when the epoch moved.
    /// </summary>
    public async Task<PhaseState?> PrepareRollbackAsync(long expectedEpoch, string actor, string reason, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var current = await ReadAsync(connection, tx, cancellationToken, forUpdate: true);
        if (current.Epoch != expectedEpoch || current.Phase != TransitionPhase.MachineOnly)
        {
            return null;
        }

        await using (var update = new NpgsqlCommand(
            "UPDATE migration_phase SET epoch = epoch + 1, changed_by = @actor, legacy_model = true WHERE id = 1", connection, tx))
        {
            update.Parameters.AddWithValue("actor", actor);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditAsync(connection, tx, actor, current.Phase, current.Phase, current.Epoch, current.Epoch + 1, "prepared", false, reason,
            [new GateResult("legacy-model", true, "instances map the legacy model again before the flip back to MachineRead")], cancellationToken);
        await NotifyAsync(connection, tx, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return await ReadAsync(cancellationToken);
    }

    public async Task RecordRefusalAsync(PhaseState current, TransitionPhase target, string actor, string reason, bool forced,
        IReadOnlyList<GateResult> gates, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AuditAsync(connection, null, actor, current.Phase, target, current.Epoch, null, "refused", forced, reason, gates, cancellationToken);
    }

    /// <summary>
    /// Local development only: a configured pin seeds the phase of a database that has never left its initial state.
    /// Returns false when the stored phase differs from the pin and cannot be seeded (the instance must not start).
    /// </summary>
    public async Task<bool> SeedOrMatchPinAsync(TransitionPhase pin, string actor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var current = await LockExclusiveAsync(connection, tx, TimeSpan.FromSeconds(30), cancellationToken);
        if (current.Phase == pin)
        {
            return true;
        }

        await using (var fresh = new NpgsqlCommand("SELECT NOT EXISTS (SELECT 1 FROM migration_phase_history)", connection, tx))
        {
            if (current.Epoch != 1 || !(bool)(await fresh.ExecuteScalarAsync(cancellationToken))!)
            {
                return false;
            }
        }

        await MoveAsync(connection, tx, current, pin, actor, "seeded", false, "phase pinned in local development configuration", [], cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>A connection listening for flips; <see cref="NpgsqlConnection.WaitAsync(TimeSpan, CancellationToken)"/> wakes on one.</summary>
    public async Task<NpgsqlConnection> ListenAsync(CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var listen = new NpgsqlCommand($"LISTEN {Channel}", connection);
        await listen.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    /// <summary>
    /// The exclusive side of the epoch fence: granted once every write transaction of the current epoch has finished,
    /// and no write starts until this transaction ends. Returns the phase as it stands under the lock.
    /// </summary>
    private static async Task<PhaseState> LockExclusiveAsync(NpgsqlConnection connection, NpgsqlTransaction tx, TimeSpan lockTimeout,
        CancellationToken cancellationToken)
    {
        await using (var fence = new NpgsqlCommand(
            $"SELECT set_config('lock_timeout', @timeout, true); SELECT pg_advisory_xact_lock({FenceLockKey})", connection, tx) { CommandTimeout = 0 })
        {
            fence.Parameters.AddWithValue("timeout", ((long)lockTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture) + "ms");
            await fence.ExecuteNonQueryAsync(cancellationToken);
        }

        // Held: what the flip does next (the reverse sync, linking children) waits for row locks as long as it needs.
        await using (var reset = new NpgsqlCommand("SELECT set_config('lock_timeout', '0', true)", connection, tx))
        {
            await reset.ExecuteNonQueryAsync(cancellationToken);
        }

        return await ReadAsync(connection, tx, cancellationToken, forUpdate: true);
    }

    /// <summary>Moves to the next epoch in <paramref name="target"/>, audited, and tells every instance at commit.</summary>
    private static async Task MoveAsync(NpgsqlConnection connection, NpgsqlTransaction tx, PhaseState current, TransitionPhase target, string actor,
        string outcome, bool forced, string reason, IReadOnlyList<GateResult> gates, CancellationToken cancellationToken)
    {
        await using (var update = new NpgsqlCommand(
            "UPDATE migration_phase SET phase = @phase, epoch = epoch + 1, since = now(), changed_by = @actor, legacy_model = false WHERE id = 1", connection, tx))
        {
            update.Parameters.AddWithValue("phase", target.ToString());
            update.Parameters.AddWithValue("actor", actor);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditAsync(connection, tx, actor, current.Phase, target, current.Epoch, current.Epoch + 1, outcome, forced, reason, gates, cancellationToken);
        await NotifyAsync(connection, tx, cancellationToken);
    }

    private static async Task NotifyAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        await using var notify = new NpgsqlCommand($"NOTIFY {Channel}", connection, tx);
        await notify.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Registers or refreshes an instance with the epoch it runs; the acknowledgement time moves only with the epoch.</summary>
    /// <param name="usage">When this instance last ran a legacy code path and last failed a write (the contract's gate).</param>
    public async Task HeartbeatAsync(InstanceRegistration instance, long epoch, TimeSpan ttl, CancellationToken cancellationToken,
        TransitionUsage? usage = null)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            INSERT INTO migration_instances (instance_id, service, build, capabilities, epoch, acknowledged_at, started_at, last_seen, expires_at,
                                             legacy_path_at, write_error_at)
            VALUES (@id, @service, @build, @capabilities, @epoch, now(), now(), now(), now() + @ttl, @legacy_path_at, @write_error_at)
            ON CONFLICT (instance_id) DO UPDATE SET build = EXCLUDED.build, capabilities = EXCLUDED.capabilities,
                acknowledged_at = CASE WHEN migration_instances.epoch = EXCLUDED.epoch THEN migration_instances.acknowledged_at ELSE now() END,
                epoch = EXCLUDED.epoch, last_seen = now(), expires_at = EXCLUDED.expires_at,
                legacy_path_at = EXCLUDED.legacy_path_at, write_error_at = EXCLUDED.write_error_at
            """, connection);
        command.Parameters.Add(new NpgsqlParameter("legacy_path_at", NpgsqlDbType.TimestampTz) { Value = (object?)usage?.LastLegacyPathAt ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("write_error_at", NpgsqlDbType.TimestampTz) { Value = (object?)usage?.LastWriteErrorAt ?? DBNull.Value });
        command.Parameters.AddWithValue("id", instance.InstanceId);
        command.Parameters.AddWithValue("service", instance.Service);
        command.Parameters.AddWithValue("build", instance.Build);
        command.Parameters.AddWithValue("capabilities", instance.Capabilities.ToArray());
        command.Parameters.AddWithValue("epoch", epoch);
        command.Parameters.AddWithValue("ttl", ttl);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A stopping instance leaves at once instead of waiting for its TTL.</summary>
    public async Task DeregisterAsync(string instanceId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("DELETE FROM migration_instances WHERE instance_id = @id", connection);
        command.Parameters.AddWithValue("id", instanceId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Instances whose TTL has not expired; expired ones drop out of every acknowledgement.</summary>
    public async Task<IReadOnlyList<InstanceInfo>> LiveInstancesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT instance_id, service, build, capabilities, epoch, acknowledged_at, last_seen, expires_at, legacy_path_at, write_error_at, started_at
            FROM migration_instances WHERE expires_at > now() ORDER BY service, instance_id
            """, connection);
        var instances = new List<InstanceInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            instances.Add(new InstanceInfo(reader.Get<string>("instance_id"), reader.Get<string>("service"), reader.Get<string>("build"),
                reader.Get<string[]>("capabilities"), reader.Get<long>("epoch"), reader.Get<DateTimeOffset>("acknowledged_at"),
                reader.Get<DateTimeOffset>("last_seen"), reader.Get<DateTimeOffset>("expires_at"))
            {
                LegacyPathAt = reader.GetOrNull<DateTimeOffset>("legacy_path_at"),
                WriteErrorAt = reader.GetOrNull<DateTimeOffset>("write_error_at"),
                StartedAt = reader.Get<DateTimeOffset>("started_at"),
            });
        }

        return instances;
    }

    /// <summary>The audit log, newest first, keyset-paged by id.</summary>
    public async Task<IReadOnlyList<PhaseHistoryEntry>> HistoryAsync(long? before, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT id, at, actor, from_phase, to_phase, from_epoch, to_epoch, outcome, forced, reason, gates::text AS gates
            FROM migration_phase_history WHERE @before::bigint IS NULL OR id < @before ORDER BY id DESC LIMIT @limit
            """, connection);
        command.Parameters.Add(new NpgsqlParameter("before", NpgsqlDbType.Bigint) { Value = (object?)before ?? DBNull.Value });
        command.Parameters.AddWithValue("limit", limit);
        var entries = new List<PhaseHistoryEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new PhaseHistoryEntry(reader.Get<long>("id"), reader.Get<DateTimeOffset>("at"), reader.Get<string>("actor"),
                reader.Get<string>("from_phase"), reader.Get<string>("to_phase"), reader.Get<long>("from_epoch"), reader.GetOrNull<long>("to_epoch"),
                reader.Get<string>("outcome"), reader.Get<bool>("forced"), reader.Get<string>("reason"),
                JsonSerializer.Deserialize<List<GateResult>>(reader.Get<string>("gates"), Json) ?? []));
        }

        return entries;
    }

    private static async Task AuditAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string actor, TransitionPhase from, TransitionPhase to,
        long fromEpoch, long? toEpoch, string outcome, bool forced, string reason, IReadOnlyList<GateResult> gates, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO migration_phase_history (actor, from_phase, to_phase, from_epoch, to_epoch, outcome, forced, reason, gates)
            VALUES (@actor, @from, @to, @from_epoch, @to_epoch, @outcome, @forced, @reason, @gates::jsonb)
            """, connection, tx);
        command.Parameters.AddWithValue("actor", actor);
        command.Parameters.AddWithValue("from", from.ToString());
        command.Parameters.AddWithValue("to", to.ToString());
        command.Parameters.AddWithValue("from_epoch", fromEpoch);
        command.Parameters.Add(new NpgsqlParameter("to_epoch", NpgsqlDbType.Bigint) { Value = (object?)toEpoch ?? DBNull.Value });
        command.Parameters.AddWithValue("outcome", outcome);
        command.Parameters.AddWithValue("forced", forced);
        command.Parameters.AddWithValue("reason", reason);
        command.Parameters.AddWithValue("gates", JsonSerializer.Serialize(gates, Json));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
