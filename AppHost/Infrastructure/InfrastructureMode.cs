using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace FleetAspire.AppHost.Infrastructure;

/// <summary>Where PostgreSQL and RabbitMQ come from (docs/adr/0003).</summary>
public enum InfrastructureMode
{
    /// <summary>Pick the first that works: external (connection strings set), containers (engine answers), local.</summary>
    Auto,
    /// <summary>Aspire's own container resources. Needs a running container engine.</summary>
    Containers,
    /// <summary>This machine's PostgreSQL and RabbitMQ binaries, run by the AppHost with throwaway data.</summary>
    Local,
    /// <summary>Connection strings <c>ConnectionStrings:fleet</c> and <c>ConnectionStrings:rabbitmq</c> supplied.</summary>
    External,
}

internal static class InfrastructureModeResolver
{
    public const string ConfigKey = "Infrastructure:Mode";

    public static InfrastructureMode Resolve(IDistributedApplicationBuilder builder)
    {
        var configured = builder.Configuration[ConfigKey];
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Enum.TryParse<InfrastructureMode>(configured, ignoreCase: true, out var mode)
                ? mode == InfrastructureMode.Auto ? Detect(builder) : mode
                : throw new InfrastructureUnavailableException(
                    $"'{ConfigKey}' is '{configured}'; use auto, containers, local or external.");
        }

        return Detect(builder);
    }

    private static InfrastructureMode Detect(IDistributedApplicationBuilder builder)
    {
        if (!string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(Names.ResourceNames.FleetDatabase))
            && !string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(Names.ResourceNames.RabbitMq)))
        {
            return InfrastructureMode.External;
        }

        if (ContainerEngineAnswers())
        {
            return InfrastructureMode.Containers;
        }

        var missing = LocalBinaries.Missing();
        if (missing.Count == 0)
        {
            return InfrastructureMode.Local;
        }

        throw new InfrastructureUnavailableException(
            "No infrastructure for PostgreSQL and RabbitMQ: no container engine answers `docker info`, no connection "
            + "strings are configured, and these local binaries are missing: " + string.Join(", ", missing) + ". "
            + "Install them (Debian: `apt-get install -y postgresql-15 rabbitmq-server`, or run ./build.sh setup), "
            + "start a container engine, or set ConnectionStrings:fleet and ConnectionStrings:rabbitmq.");
    }

    /// <summary>
    /// The CLI alone proves nothing (it is installed on machines without a daemon); <c>docker info</c> fails fast
    /// when no engine answers, so it is the probe.
    /// </summary>
    private static bool ContainerEngineAnswers()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("docker", "info --format {{.ServerVersion}}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return false;
            }

            if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }

            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no docker CLI at all
        }
    }
}

public sealed class InfrastructureUnavailableException(string message) : Exception(message);
