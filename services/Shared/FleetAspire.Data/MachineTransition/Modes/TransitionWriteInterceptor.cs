using System.Data.Common;
using System.Runtime.CompilerServices;
using FleetAspire.Data.MachineTransition.DualWrite;
using FleetAspire.Data.MachineTransition.Phases;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// Every write transaction of a service passes through here, whatever code path opened it:
/// <list type="bullet">
/// <item>at start, the epoch fence: the phase lock taken shared, the stored epoch read under it, this service named as
/// the writer in the change log; the transaction's mode is the mode of that epoch (a flip waits for it to finish);</item>
/// <item>in a phase that writes both representations, the dual-write switched on for the transaction: PostgreSQL runs
/// it at COMMIT, inside the transaction (<see cref="MachineSync"/>).</item>
/// </list>
/// SaveChanges always runs in a transaction so that no single-statement save slips past.
/// </summary>
public sealed class TransitionWriteInterceptor(TransitionModeResolver resolver, InstanceRegistration instance, Shadow.ShadowCompareQueue checks,
    TransitionUsage usage, Microsoft.Extensions.Options.IOptions<TransitionOptions> options)
    : IDbTransactionInterceptor, ISaveChangesInterceptor
{
    private sealed record Fenced(TransitionMode Mode, long Txid);

    private readonly ConditionalWeakTable<DbTransaction, Fenced> _modes = new();
    private readonly string _writer = "fleetaspire/" + instance.Service;
    private readonly string _lockTimeout = ((long)options.Value.FenceLockTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture) + "ms";

    /// <summary>
    /// The fence is one function (<c>fleet_write_fence</c>, Migrations/MachineTransitionSql): it bounds the
    /// transaction's lock waits, takes the phase lock shared, reads the epoch in a statement that starts after the
    /// lock is held, names the writer and switches the dual-write on. A transaction opened here passes no planned
    /// epoch: the mode is compared below, where a refusal can still roll back before anything is written.
    /// </summary>
    internal const string FenceSql = "SELECT epoch, txid FROM fleet_write_fence(@writer, @lock_timeout, @planned_epoch)";

    public ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        if (eventData.Context is not null)
        {
            eventData.Context.Database.AutoTransactionBehavior = AutoTransactionBehavior.Always;
        }

        return ValueTask.FromResult(result);
    }

    public async ValueTask<DbTransaction> TransactionStartedAsync(DbConnection connection, TransactionEndEventData eventData, DbTransaction result,
        CancellationToken cancellationToken = default)
    {
        await using var fence = new NpgsqlCommand(FenceSql, (NpgsqlConnection)connection, (NpgsqlTransaction)result);
        AddFenceParameters(fence.Parameters, plannedEpoch: null);
        await fence.PrepareAsync(cancellationToken);
        long epoch, txid;
        await using (var reader = await fence.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            (epoch, txid) = (reader.GetInt64(reader.GetOrdinal("epoch")), reader.GetInt64(reader.GetOrdinal("txid")));
        }

        var mode = await resolver.ForLockedEpochAsync(epoch, cancellationToken);
        // A write planned for one authority (legacy fields, or Machine) must not run under the other: the phase
        // moved between planning and the fence. Refused here, before anything is written; retried once by the caller.
        if ((eventData.Context as FleetDbContext)?.PlannedWriteMode is { } planned && planned.WriteLegacy != mode.WriteLegacy)
        {
            await result.RollbackAsync(cancellationToken);
            await result.DisposeAsync();
            throw new PhaseChangedException(planned.Epoch, mode.Epoch);
        }

        _modes.AddOrUpdate(result, new Fenced(mode, txid));
        return result;
    }

    /// <summary>The mode of the epoch a transaction this interceptor fenced locked, or null for one it did not see.</summary>
    internal TransitionMode? ModeOf(DbTransaction transaction) => _modes.TryGetValue(transaction, out var fenced) ? fenced.Mode : null;

    internal void AddFenceParameters(NpgsqlParameterCollection parameters, long? plannedEpoch)
    {
        parameters.Add(new NpgsqlParameter<string>("writer", NpgsqlTypes.NpgsqlDbType.Text) { TypedValue = _writer });
        parameters.Add(new NpgsqlParameter<string>("lock_timeout", NpgsqlTypes.NpgsqlDbType.Text) { TypedValue = _lockTimeout });
        parameters.Add(new NpgsqlParameter("planned_epoch", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = (object?)plannedEpoch ?? DBNull.Value });
    }

    /// <summary>A committed dual-write is offered for its write check (sampled, never waited for).</summary>
    internal void Committed(TransitionMode mode, long txid)
    {
        if (mode.WriteLegacy && mode.WriteMachine)
        {
            checks.OfferWriteCheck(mode, Shadow.WriteCheck.For(txid));
        }
    }

    /// <summary>A committed dual-write is offered for its write check (sampled, never waited for).</summary>
    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        if (_modes.TryGetValue(transaction, out var fenced))
        {
            Committed(fenced.Mode, fenced.Txid);
        }

        return Task.CompletedTask;
    }

    /// <summary>A failed save counts as a write error for the contract's gate, unless it is an answer, not a fault.</summary>
    public Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        RecordFailure(eventData.Exception);
        return Task.CompletedTask;
    }

    public Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        RecordFailure(eventData.Exception);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Not counted: a refusal by the fence (re-planned), a constraint answered as 409, contention the database
    /// resolved by aborting (serialization failure, deadlock, a lock not granted in time: answered 503, retried).
    /// </summary>
    internal void RecordFailure(Exception exception)
    {
        if (PhaseChangedException.In(exception))
        {
            return;
        }

        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException pg && (pg.SqlState.StartsWith("23", StringComparison.Ordinal)
                || pg.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.LockNotAvailable))
            {
                return;
            }
        }

        usage.WriteFailed();
    }

    // Synchronous writes would block a thread on the fence; every service writes asynchronously.
    public InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result) =>
        throw new NotSupportedException("Synchronous SaveChanges is not supported while the machine transition runs.");

    public DbTransaction TransactionStarted(DbConnection connection, TransactionEndEventData eventData, DbTransaction result) =>
        throw new NotSupportedException("Synchronous transactions are not supported while the machine transition runs.");
}
