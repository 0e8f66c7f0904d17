namespace FleetAspire.ServiceDefaults.Validation;

/// <summary>Collects field errors into the dictionary ValidationProblem expects.</summary>
public sealed class FieldErrors
{
    private readonly Dictionary<string, string[]> _errors = new(StringComparer.Ordinal);

    public FieldErrors Check(string field, string? error)
    {
        if (error is not null)
        {
            _errors[field] = [$"'{field}' {error}."];
        }

        return this;
    }

    public bool Any => _errors.Count > 0;

    public IDictionary<string, string[]> ToDictionary() => _errors;
}
