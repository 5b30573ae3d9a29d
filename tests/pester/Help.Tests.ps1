# Help is a derived artifact: check it against the real cmdlets (PSReadLine's CheckHelpContent
# idea). Every exported cmdlet: synopsis, description, two examples or more, every parameter
# documented, and the help's parameters (names, mandatory, position, pipeline input) equal the
# real ones. No agent needed.

BeforeDiscovery {
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    $script:Cmdlets = @(Get-Command -Module QemuGuest -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    $script:Common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters |
        Where-Object { $_ -notin 'WhatIf', 'Confirm' }
}

Describe 'Module help files' {
    It 'ships the MAML file and about_QemuGuest' {
        Test-Path (Join-Path $env:QEMUGUEST_MODULE_PATH 'en-US/QemuGuest.Cmdlets.dll-Help.xml') | Should -BeTrue
        Test-Path (Join-Path $env:QEMUGUEST_MODULE_PATH 'en-US/about_QemuGuest.help.txt') | Should -BeTrue
    }

    It 'about_QemuGuest names every ErrorId of the error table' {
        $about = Get-Content -Raw (Join-Path $env:QEMUGUEST_MODULE_PATH 'en-US/about_QemuGuest.help.txt')
        $ids = [QemuGuest.Cmdlets.Infrastructure.ErrorTable].GetFields() | Where-Object { $_.IsLiteral } | ForEach-Object { $_.GetRawConstantValue() }
        foreach ($id in $ids) { $about | Should -BeLike "*$id*" -Because "ErrorId $id is public contract" }
    }
}

Describe 'Help of <Name>' -ForEach $Cmdlets {
    BeforeAll {
        $script:Help = Get-Help $Name -Full
        $script:Command = Get-Command $Name
    }

    It 'has a synopsis (not the generated syntax placeholder)' {
        $Help.Synopsis | Should -Not -BeNullOrEmpty
        $Help.Synopsis.Trim() | Should -Not -BeLike "$Name *"
        $Help.Synopsis | Should -Not -Match ([regex]::Escape('[<CommonParameters>]'))
    }

    It 'has a description' {
        ($Help.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty
    }

    It 'has at least two examples, each with code' {
        # Where-Object: with no examples at all, @($Help.Examples.Example) is @($null), one "example".
        $examples = @($Help.Examples.Example | Where-Object { $_ })
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($e in $examples) { ($e.Code | Out-String).Trim() | Should -Not -BeNullOrEmpty }
    }

    It 'documents exactly the real parameters' {
        $real = @($Command.Parameters.Keys | Where-Object { $_ -notin $Common } | Sort-Object)
        $documented = @($Help.Parameters.Parameter | ForEach-Object Name | Sort-Object)
        $documented | Should -Be $real
    }

    It 'describes every parameter, with the real mandatory flag, position and pipeline input' {
        foreach ($hp in $Help.Parameters.Parameter) {
            ($hp.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$($hp.Name)"
            $rp = $Command.Parameters[$hp.Name]
            if ($hp.Name -in 'WhatIf', 'Confirm') { continue }
            $attrs = @($rp.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
            $mandatory = @($attrs | Where-Object Mandatory).Count -gt 0
            [bool]::Parse($hp.Required) | Should -Be $mandatory -Because "-$($hp.Name) mandatory"
            $byName = @($attrs | Where-Object ValueFromPipelineByPropertyName).Count -gt 0
            ($hp.PipelineInput -like '*ByPropertyName*') | Should -Be $byName -Because "-$($hp.Name) pipeline input"
            $pos = @($attrs | Where-Object { $_.Position -ge 0 } | ForEach-Object Position | Select-Object -First 1)
            $expected = if ($pos.Count -gt 0) { [string] $pos[0] } else { 'named' }
            $hp.Position | Should -Be $expected -Because "-$($hp.Name) position"
        }
    }

    It 'has related links' {
        @($Help.RelatedLinks.NavigationLink | Where-Object { $_.LinkText }).Count | Should -BeGreaterThan 0
    }
}
