using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace FleetAspire.Data;

/// <summary>
/// A PostgreSQL session advisory lock held on the context's connection: how one replica at a time runs a background
/// loop (outbox dispatch, pool reconcile, heartbeat sweep) without a scheduler. Dispose releases it and closes the
/// connection; a crashed holder's lock goes with its session.
/// </summary>
public sealed class SessionLock : IAsyncDisposable
{
    private readonly FleetDbContext _db;
    private readonly long _key;

    private SessionLock(FleetDbContext db, long key)
    {
        _db = db;
        _key = key;
    }

    /// <summary>The lock, or null when another session holds it (the connection is closed again then).</summary>
    public static async Task<SessionLock?> TryAcquireAsync(FleetDbContext db, long key, CancellationToken cancellationToken)
    {
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            if (await ExecuteAsync(db, "pg_try_advisory_lock", key, cancellationToken))
            {
                return new SessionLock(db, key);
            }
        }
        catch
        {
            await db.Database.CloseConnectionAsync();
            throw;
        }

        await db.Database.CloseConnectionAsync();
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ExecuteAsync(_db, "pg_advisory_unlock", _key, CancellationToken.None);
        }
        finally
        {
            await _db.Database.CloseConnectionAsync();
        }
    }

    private static async Task<bool> ExecuteAsync(FleetDbContext db, string function, long key, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT {function}(@key)", (NpgsqlConnection)db.Database.GetDbConnection());
        command.Parameters.AddWithValue("key", key);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
