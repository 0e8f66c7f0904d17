using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// The DbContext's execution strategy while the migration runs. An operation it runs is a unit of work: the unit's
/// writes are planned at its first storage call (<see cref="WritePlanner"/>), and when the phase moves under the plan
/// (<see cref="PhaseChangedException"/>, raised before anything is written) the unit runs once more from a clean
/// context, planned again; a second move reaches the caller (503 + Retry-After). Nothing else is retried: an outage
/// must reach the client, not hold its request (docs/adr/0018).
/// </summary>
/// <remarks>
/// Operations nested in a unit (its SaveChanges) run as part of it. <see cref="RetriesOnFailure"/> is false so that EF
/// keeps accepting transactions opened outside a strategy: only a unit that planned inside this strategy is retried,
/// and such a unit opened its transactions itself.
/// </remarks>
public sealed class PhaseRetryingExecutionStrategy(ExecutionStrategyDependencies dependencies) : IExecutionStrategy
{
    public bool RetriesOnFailure => false;

    // Synchronous database work does not pass the fence (TransitionWriteInterceptor): nothing to plan or retry.
    public TResult Execute<TState, TResult>(TState state, Func<DbContext, TState, TResult> operation,
        Func<DbContext, TState, ExecutionResult<TResult>>? verifySucceeded) =>
        operation(dependencies.CurrentContext.Context, state);

    public async Task<TResult> ExecuteAsync<TState, TResult>(TState state, Func<DbContext, TState, CancellationToken, Task<TResult>> operation,
        Func<DbContext, TState, CancellationToken, Task<ExecutionResult<TResult>>>? verifySucceeded, CancellationToken cancellationToken = default)
    {
        var context = dependencies.CurrentContext.Context;
        if (context is not FleetDbContext db || db.InWriteUnit)
        {
            return await operation(context, state, cancellationToken);
        }

        db.InWriteUnit = true;
        try
        {
            try
            {
                return await operation(db, state, cancellationToken);
            }
            // EF's own operations may wrap it ("likely due to a transient failure"): look down the chain. Only a unit
            // that planned can see one: the fence compares with the plan.
            catch (Exception ex) when (PhaseChangedException.In(ex))
            {
                db.ChangeTracker.Clear();
                await db.Database.CloseConnectionAsync();
                db.PlannedWriteMode = null;
            }

            return await operation(db, state, cancellationToken);
        }
        finally
        {
            // The plan covers this unit's transactions only, never a later one of the same context.
            db.PlannedWriteMode = null;
            db.InWriteUnit = false;
        }
    }
}
