using System;

namespace QemuGuest.Schema.Tests;

/// <summary>
/// A fact that needs an outside resource named by an environment variable: reported as
/// skipped (with the variable to set) when it is unset, never as a pass that checked nothing.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FactWhenEnvironmentAttribute : FactAttribute
{
    public FactWhenEnvironmentAttribute(string variable, string what)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable)))
        {
            Skip = $"set {variable} to {what} to run this check";
        }
    }
}
