using FleetAspire.Data.Migrations;
using Npgsql;

namespace FleetAspire.Data.MachineTransition.Contract;

/// <summary>Where one contract step stands.</summary>
public sealed record ContractStepState(int Position, string Name, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, int Attempts, string? LastError);

/// <summary>
/// Applies the contract set (<see cref="ContractSql.Steps"/>): each step in its own transaction under
/// <c>lock_timeout = '2s'</c>, recorded in that same transaction, so a step is applied exactly once and a runner
/// stopped anywhere resumes at the first unfinished step. A step that rewrites rows
/// (<see cref="ContractStep.BatchSize"/>) runs in keyset batches, one transaction each, and is recorded with its last.
/// </summary>
/// <remarks>
/// With writers active, a step first takes every table lock its DDL needs, waiting at most
/// <see cref="LockAttempt"/> for them: writers queue behind it no longer than that, and it never holds one lock while
/// waiting long enough for the deadlock detector (1 s) to pick a victim — which could be a client's request. Not
/// granted in time: rolled back, recorded as an attempt, tried again after a short, growing pause.
/// </remarks>
public sealed class ContractRunner(NpgsqlDataSource dataSource, TimeProvider time)
{
    public static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(2);

    /// <summary>How long a step waits for its table locks before it steps back and tries again.</summary>
    public static readonly TimeSpan LockAttempt = TimeSpan.FromMilliseconds(50);

    private enum Outcome { Applied, AppliedElsewhere, MoreBatches, Busy }

    /// <summary>Session advisory lock (with the step's position) for a step that runs outside a transaction.</summary>
    private const int OutsideTransactionLockKey = 0x636F6E74; // "cont"

    /// <summary>Records every step as owed; called in the flip's transaction so the phase and the debt commit together.</summary>
    public static async Task ScheduleAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, tx);
        foreach (var step in ContractSql.Steps)
        {
            var command = new NpgsqlBatchCommand("INSERT INTO migration_contract_steps (position, name) VALUES ($1, $2) ON CONFLICT DO NOTHING");
            command.Parameters.Add(new NpgsqlParameter { Value = step.Position });
            command.Parameters.Add(new NpgsqlParameter { Value = step.Name });
            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<ContractStepState>> StatusAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT position, name, started_at, finished_at, attempts, last_error FROM migration_contract_steps ORDER BY position", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var steps = new List<ContractStepState>();
        while (await reader.ReadAsync(cancellationToken))
        {
            steps.Add(new ContractStepState(reader.Get<int>("position"), reader.Get<string>("name"),
                reader.GetOrNull<DateTimeOffset>("started_at"), reader.GetOrNull<DateTimeOffset>("finished_at"),
                reader.Get<int>("attempts"), reader.GetStringOrNull("last_error")));
        }

        return steps;
    }

    /// <summary>
    /// Applies owed steps in order, up to and including the next barrier; returns the names applied by this call. <paramref name="pause"/> is waited
    /// after each step (operators may pace the contract to watch it); lock timeouts back off and retry without limit.
    /// </summary>
    public async Task<IReadOnlyList<string>> ApplyOwedAsync(TimeSpan pause, CancellationToken cancellationToken)
    {
        var applied = new List<string>();
        foreach (var owed in (await StatusAsync(cancellationToken)).Where(s => s.FinishedAt is null))
        {
            var step = ContractSql.Steps.Single(s => s.Position == owed.Position);
            // A batched step starts over from the first key after a restart: batches already done find nothing to
            // change, and the trigger keeps the rows behind the cursor in step.
            var (after, batchSize) = (string.Empty, step.BatchSize);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var (outcome, last) = step.ConcurrentIndex is null
                        ? await TryApplyAsync(step, after, batchSize, cancellationToken)
                        : (await TryBuildIndexAsync(step, cancellationToken), null);
                    if (outcome == Outcome.Busy)
                    {
                        await RecordFailureAsync(step, "another runner is applying this step", cancellationToken);
                        await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 * attempt) + Random.Shared.Next(50)), time, cancellationToken);
                        continue;
                    }

                    if (outcome == Outcome.MoreBatches)
                    {
                        (after, batchSize, attempt) = (last!, Math.Min(step.BatchSize, batchSize * 2), 0);
                        continue;
                    }

                    if (outcome == Outcome.Applied)
                    {
                        applied.Add(step.Name);
                    }

                    if (step.Barrier)
                    {
                        // The caller waits for every instance to take the barrier's epoch before the next step.
                        return applied;
                    }

                    break;
                }
                catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.DeadlockDetected)
                {
                    // A batch that met a writer's row lock is redone smaller: fewer rows to wait on.
                    batchSize = Math.Max(1, batchSize / 2);
                    await RecordFailureAsync(step, ex.MessageText, cancellationToken);
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 * attempt) + Random.Shared.Next(50)), time, cancellationToken);
                }
                catch (PostgresException ex)
                {
                    await RecordFailureAsync(step, $"{ex.SqlState}: {ex.MessageText}", cancellationToken);
                    throw;
                }
            }

            if (pause > TimeSpan.Zero)
            {
                await Task.Delay(pause, time, cancellationToken);
            }
        }

        return applied;
    }

    /// <summary>
    /// One step and its record, one transaction — or, for a batched step, one batch, and the record with the last one.
    /// </summary>
    private async Task<(Outcome Outcome, string? Last)> TryApplyAsync(ContractStep step, string after, int batchSize,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var claim = new NpgsqlCommand(
            $"SET LOCAL lock_timeout = '{(int)LockTimeout.TotalMilliseconds}ms'; " +
            "SELECT finished_at IS NOT NULL FROM migration_contract_steps WHERE position = @position FOR UPDATE", connection, tx))
        {
            claim.Parameters.AddWithValue("position", step.Position);
            if (await claim.ExecuteScalarAsync(cancellationToken) is true)
            {
                return (Outcome.AppliedElsewhere, null);
            }
        }

        if (step.BatchSize > 0)
        {
            var (covered, last) = await ApplyBatchAsync(step, connection, tx, after, batchSize, cancellationToken);
            if (covered == batchSize)
            {
                await tx.CommitAsync(cancellationToken);
                return (Outcome.MoreBatches, last);
            }

            await RecordDoneAsync(step, connection, tx, cancellationToken);
            return (Outcome.Applied, last);
        }

        if (step.Locks.Length > 0)
        {
            // Tables a step drops may be gone already on a database that never had them: lock what exists.
            var locks = string.Concat(step.Locks.Select(l => l.Split(' ', 2)).Select(l =>
                $"IF to_regclass('{l[0]}') IS NOT NULL THEN LOCK TABLE {l[0]} IN {l[1]} MODE; END IF; "));
            await using var take = new NpgsqlCommand(
                $"SET LOCAL lock_timeout = '{(int)LockAttempt.TotalMilliseconds}ms'; DO $locks$ BEGIN {locks}END $locks$; " +
                $"SET LOCAL lock_timeout = '{(int)LockTimeout.TotalMilliseconds}ms';", connection, tx);
            await take.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var apply = new NpgsqlCommand(step.Sql, connection, tx) { CommandTimeout = 0 })
        {
            await apply.ExecuteNonQueryAsync(cancellationToken);
        }

        await RecordDoneAsync(step, connection, tx, cancellationToken);
        return (Outcome.Applied, null);
    }

    /// <summary>
    /// A concurrently built index: outside any transaction, so no row lock can claim the step — a session advisory lock
    /// does. Idempotent: an invalid index (an attempt cancelled or timed out half-way) is dropped and built again.
    /// </summary>
    private async Task<Outcome> TryBuildIndexAsync(ContractStep step, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (!await ScalarAsync<bool>(connection, $"SELECT pg_try_advisory_lock({OutsideTransactionLockKey}, {step.Position})", cancellationToken))
        {
            return Outcome.Busy;
        }

        try
        {
            if (await ScalarAsync<bool>(connection, $"SELECT finished_at IS NOT NULL FROM migration_contract_steps WHERE position = {step.Position}",
                    cancellationToken))
            {
                return Outcome.AppliedElsewhere;
            }

            var index = step.ConcurrentIndex!;
            if (await ScalarAsync<bool>(connection,
                    $"SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('{index}') AND NOT indisvalid)", cancellationToken))
            {
                await ExecuteAsync(connection, $"DROP INDEX CONCURRENTLY IF EXISTS {index}", cancellationToken);
            }

            await ExecuteAsync(connection, $"SET lock_timeout = '{(int)LockTimeout.TotalMilliseconds}ms'", cancellationToken);
            await ExecuteAsync(connection, step.Sql, cancellationToken);
            await using var tx = await connection.BeginTransactionAsync(cancellationToken);
            await RecordDoneAsync(step, connection, tx, cancellationToken);
            return Outcome.Applied;
        }
        finally
        {
            try
            {
                await ExecuteAsync(connection, $"RESET lock_timeout; SELECT pg_advisory_unlock({OutsideTransactionLockKey}, {step.Position})",
                    CancellationToken.None);
            }
            catch (NpgsqlException)
            {
                // The session is gone, and its lock with it.
            }
        }
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// One batch of a row-rewriting step. Its row locks are waited for at most <see cref="LockAttempt"/>: a writer's
    /// row costs the batch a retry, never the writer a deadlock.
    /// </summary>
    private static async Task<(long Covered, string? Last)> ApplyBatchAsync(ContractStep step, NpgsqlConnection connection, NpgsqlTransaction tx,
        string after, int batchSize, CancellationToken cancellationToken)
    {
        await using (var yieldToWriters = new NpgsqlCommand($"SET LOCAL lock_timeout = '{(int)LockAttempt.TotalMilliseconds}ms'", connection, tx))
        {
            await yieldToWriters.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var batch = new NpgsqlCommand(step.Sql, connection, tx) { CommandTimeout = 0 };
        batch.Parameters.AddWithValue("after", after);
        batch.Parameters.AddWithValue("limit", batchSize);
        return await KeysetBatch.RunAsync(batch, cancellationToken);
    }

    private static async Task RecordDoneAsync(ContractStep step, NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        await using (var done = new NpgsqlCommand("""
            UPDATE migration_contract_steps SET started_at = coalesce(started_at, now()), finished_at = now(),
                attempts = attempts + 1, last_error = NULL
            WHERE position = @position
            """, connection, tx))
        {
            done.Parameters.AddWithValue("position", step.Position);
            await done.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
    }

    private async Task RecordFailureAsync(ContractStep step, string error, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            UPDATE migration_contract_steps SET started_at = coalesce(started_at, now()), attempts = attempts + 1, last_error = @error
            WHERE position = @position
            """, connection);
        command.Parameters.AddWithValue("position", step.Position);
        command.Parameters.AddWithValue("error", error);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
