using System.Text.Json;
using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;

// Developer credentials for a local AppHost:
//   dotnet run --project tools/FleetAspire.Cli -- token --user alice
//   dotnet run --project tools/FleetAspire.Cli -- token --operator ops
// The key is the AppHost's development parameter (AppHost/appsettings.Development.json) unless --key or
// FLEET_SIGNING_KEY says otherwise.
if (args.Length == 0 || args[0] != "token")
{
    Console.Error.WriteLine("usage: fleet token (--user ID | --operator ID) [--key KEY] [--hours N]");
    return 2;
}

string? subject = null, role = null, key = Environment.GetEnvironmentVariable("FLEET_SIGNING_KEY");
var hours = 8.0;
for (var i = 1; i < args.Length - 1; i += 2)
{
    switch (args[i])
    {
        case "--user": (subject, role) = (args[i + 1], AuthNames.UserRole); break;
        case "--operator": (subject, role) = (args[i + 1], AuthNames.OperatorRole); break;
        case "--key": key = args[i + 1]; break;
        case "--hours": hours = double.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
        default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
    }
}

if (subject is null || role is null)
{
    Console.Error.WriteLine("name a subject with --user or --operator");
    return 2;
}

key ??= DevelopmentKey();
if (key is null)
{
    Console.Error.WriteLine("no signing key: pass --key, set FLEET_SIGNING_KEY, or run from the repository root");
    return 2;
}

Console.WriteLine(FleetTokens.Create(key, subject, role, TimeSpan.FromHours(hours)));
return 0;

static string? DevelopmentKey()
{
    for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
    {
        var file = Path.Combine(dir.FullName, "AppHost", "appsettings.Development.json");
        if (File.Exists(file))
        {
            using var json = JsonDocument.Parse(File.ReadAllText(file));
            return json.RootElement.GetProperty("Parameters").GetProperty("auth-signing-key").GetString();
        }
    }

    return null;
}
