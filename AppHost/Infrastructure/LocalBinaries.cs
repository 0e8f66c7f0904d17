namespace FleetAspire.AppHost.Infrastructure;

/// <summary>Finds the PostgreSQL and RabbitMQ/Erlang binaries of this machine.</summary>
internal static class LocalBinaries
{
    public const string RabbitMqServer = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    /// <summary>The newest installed PostgreSQL's bin directory (Debian layout), else whatever is on PATH.</summary>
    public static string? PostgresBinDirectory()
    {
        const string debianRoot = "/usr/lib/postgresql";
        if (Directory.Exists(debianRoot))
        {
            var newest = Directory.GetDirectories(debianRoot)
                .Select(d => (Dir: d, Version: int.TryParse(Path.GetFileName(d), out var v) ? v : -1))
                .Where(d => d.Version > 0 && File.Exists(Path.Combine(d.Dir, "bin", "postgres")))
                .OrderByDescending(d => d.Version)
                .FirstOrDefault();
            if (newest.Dir is not null)
            {
                return Path.Combine(newest.Dir, "bin");
            }
        }

        return FindOnPath("postgres") is { } postgres && FindOnPath("initdb") is not null ? Path.GetDirectoryName(postgres) : null;
    }

    public static string? Epmd() => FindOnPath("epmd");

    public static IReadOnlyList<string> Missing()
    {
        var missing = new List<string>();
        if (PostgresBinDirectory() is null)
        {
            missing.Add("PostgreSQL server (postgres, initdb)");
        }

        if (!File.Exists(RabbitMqServer))
        {
            missing.Add($"RabbitMQ ({RabbitMqServer})");
        }

        if (Epmd() is null)
        {
            missing.Add("Erlang epmd");
        }

        return missing;
    }

    public static bool RunningAsRoot() => Environment.UserName == "root";

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, name))
        .FirstOrDefault(File.Exists);
}
