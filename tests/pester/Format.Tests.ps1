# QemuGuest.Format.ps1xml against the types it formats: every view selects a real output type
# and every PropertyName it shows exists on that type (or is the VMName note property).

BeforeDiscovery {
    [xml] $format = Get-Content -Raw (Join-Path $env:QEMUGUEST_MODULE_PATH 'QemuGuest.Format.ps1xml')
    $script:Views = @($format.Configuration.ViewDefinitions.View | ForEach-Object {
            @{
                Name       = $_.Name
                TypeName   = [string] $_.ViewSelectedBy.TypeName
                # Guest text is shown through GuestDisplay (escaped): those properties count too.
                Properties = @(@($_.SelectNodes('.//PropertyName') | ForEach-Object InnerText) +
                    @($_.SelectNodes('.//ScriptBlock') | ForEach-Object { [regex]::Matches($_.InnerText, 'GuestDisplay\]::(?:Text|Lines|Base64Lines)\(\$_\.(\w+)') } | ForEach-Object { $_.Groups[1].Value }) |
                    Sort-Object -Unique)
            }
        })
}

BeforeAll {
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    # The module's dependencies load privately (their own AssemblyLoadContext), and another suite
    # may have loaded an impostor QemuGuest.Protocol into the default one: resolve output type
    # names against the module's own assemblies.
    # The private load context fills lazily: make the module touch QemuGuest.Protocol once.
    $null = New-VMGuestSession -ConnectionString 'tcp:no-port-here' -ErrorAction SilentlyContinue
    $cmdlets = (Get-Command New-VMGuestSession).ImplementingType.Assembly
    $protocol = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($cmdlets).Assemblies |
        Where-Object { $_.GetName().Name -eq 'QemuGuest.Protocol' } | Select-Object -First 1
    if (-not $protocol) {
        $protocol = [System.Runtime.Loader.AssemblyLoadContext]::All |
            Where-Object { $_ -ne [System.Runtime.Loader.AssemblyLoadContext]::Default } |
            ForEach-Object { $_.Assemblies } | Where-Object { $_.GetName().Name -eq 'QemuGuest.Protocol' } | Select-Object -Last 1
    }
    $script:Types = @{}
    foreach ($c in Get-Command -Module QemuGuest -CommandType Cmdlet) {
        foreach ($o in $c.OutputType) {
            $t = $cmdlets.GetType($o.Name)
            if (-not $t -and $protocol) { $t = $protocol.GetType($o.Name) }
            if ($t) { $script:Types[$o.Name] = $t }
        }
    }
}

Describe 'View <Name>' -ForEach @($Views | Where-Object TypeName -ne 'QemuGuest.GuestText') {
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

Describe 'Guest text on the console (issue 15 item 8)' {
    It 'every view shows guest strings through GuestDisplay, never a bare string property' {
        [xml] $format = Get-Content -Raw (Join-Path $env:QEMUGUEST_MODULE_PATH 'QemuGuest.Format.ps1xml')
        foreach ($view in $format.Configuration.ViewDefinitions.View) {
            $type = [string] $view.ViewSelectedBy.TypeName
            if ($type -eq 'QemuGuest.Cmdlets.Sessions.GuestSession' -or -not $Types.ContainsKey($type)) { continue }
            foreach ($name in @($view.SelectNodes('.//PropertyName') | ForEach-Object InnerText)) {
                if ($name -eq 'VMName') { continue }
                $p = $Types[$type].GetProperty($name)
                $p.PropertyType | Should -Not -Be ([string]) -Because "$type.$name is guest text shown raw"
            }
        }
    }

    It 'the catch-all view is loaded and escapes what it shows' {
        Get-FormatData -TypeName 'QemuGuest.GuestText' | Should -Not -BeNullOrEmpty
        $o = [pscustomobject]@{ HostName = "web`e]0;owned`a"; Lines = "a`nb`e[2J" }
        $o.PSObject.TypeNames.Insert($o.PSObject.TypeNames.Count - 1, 'QemuGuest.GuestText')
        $text = $o | Out-String
        $text | Should -Not -Match "`e"
        $text | Should -Match ([regex]::Escape('web\u001b]0;owned\u0007'))
        $o.HostName | Should -Be "web`e]0;owned`a"
    }
}
