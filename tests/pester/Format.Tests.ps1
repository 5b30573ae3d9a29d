# QemuGuest.Format.ps1xml against the types it formats: every view selects a real output type
# and every PropertyName it shows exists on that type (or is the VMName note property).

BeforeDiscovery {
    [xml] $format = Get-Content -Raw (Join-Path $env:QEMUGUEST_MODULE_PATH 'QemuGuest.Format.ps1xml')
    $script:Views = @($format.Configuration.ViewDefinitions.View | ForEach-Object {
            @{
                Name       = $_.Name
                TypeName   = [string] $_.ViewSelectedBy.TypeName
                Properties = @($_.SelectNodes('.//PropertyName') | ForEach-Object InnerText | Sort-Object -Unique)
            }
        })
}

BeforeAll {
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    # The module's dependencies load privately; find the output types through the cmdlets' OutputType.
    $script:Types = @{}
    foreach ($c in Get-Command -Module QemuGuest -CommandType Cmdlet) {
        foreach ($o in $c.OutputType) { if ($o.Type) { $script:Types[$o.Type.FullName] = $o.Type } }
    }
}

Describe 'View <Name>' -ForEach $Views {
    It 'selects a type the module outputs' {
        $Types.ContainsKey($TypeName) | Should -BeTrue -Because "$TypeName should be some cmdlet's OutputType"
    }

    It 'shows only properties the type has' {
        $t = $Types[$TypeName]
        foreach ($p in $Properties) {
            if ($p -eq 'VMName' -and $TypeName -like 'QemuGuest.Protocol.Qga.*') { continue }
            $t.GetProperty($p) | Should -Not -BeNullOrEmpty -Because "$TypeName.$p"
        }
    }

    It 'is loaded by the module' {
        Get-FormatData -TypeName $TypeName | Should -Not -BeNullOrEmpty
    }
}
