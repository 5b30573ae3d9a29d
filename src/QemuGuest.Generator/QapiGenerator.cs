using Microsoft.CodeAnalysis;

namespace QemuGuest.Generator;

/// <summary>
/// Placeholder: the incremental generator pipeline (schema AdditionalFiles → checked model →
/// backends selected by QemuGuestBackends) is issue 3.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class QapiGenerator : IIncrementalGenerator
{
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
    }
}
